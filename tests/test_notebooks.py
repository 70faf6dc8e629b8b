"""Every notebook in examples/ runs from top to bottom, on the bundled data only.

Each notebook is executed with nbclient in a fresh Jupyter kernel, in a temporary
working directory, without $RNNLAB_DATA (so only the datasets bundled with rnnlab
are found) and with the user cache and temporary files inside the test folder. A
failing cell fails the test with that cell's source and error. Deselect with
``-m "not notebook"``; ``--durations=0`` shows each notebook's run time.

The notebooks are stored without outputs; a test checks that too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell; a whole notebook takes well under a minute on a CPU
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_the_lab_notebooks_are_there():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs; clear them before committing "
                       f"(Jupyter: Edit > Clear Outputs of All Cells, or "
                       f"jupyter nbconvert --clear-output --inplace {path.name})")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLAB_DATA", raising=False)       # bundled datasets only
    monkeypatch.delenv("RNNLAB_NO_BUNDLED", raising=False)
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))             # the notebooks' run folders
    # pytest -n 2 runs two kernels at once; one thread each avoids oversubscribing the CPU
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except CellTimeoutError as err:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT} s\n{err}",
                    pytrace=False)
    except CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell failed\n{ANSI.sub('', str(err))}", pytrace=False)
    # plots are shown inline: every cell that calls plt.show() has an image output
    blank = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and "plt.show()" in cell.source
             and not any("image/png" in out.get("data", {}) for out in cell.outputs)]
    assert not blank, f"{path.name}: cells {blank} call plt.show() but show no figure"


def test_importing_the_figure_modules_keeps_a_notebooks_inline_backend():
    code = ("import ipykernel, matplotlib\n"
            "matplotlib.use('module://matplotlib_inline.backend_inline')\n"
            "import rnnlab.figures, rnnlab.report.plots\n"
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "inline" in out
