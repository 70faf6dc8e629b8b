"""docs/config.md is generated from the config classes and must match them; the READMEs agree."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from rnnlab.config import ModelConfig, RunConfig, TrainConfig, option
from rnnlab.docs import COMMAND, config_markdown, fields_table, main
from rnnlab.tasks import TASKS, get_task

ROOT = Path(__file__).resolve().parents[1]


def test_config_docs_are_up_to_date():
    stored = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert stored == config_markdown(), (
        f"docs/config.md is out of date with the config classes; regenerate it: {COMMAND}")


def test_every_key_of_every_config_class_is_documented():
    text = config_markdown()
    classes = [(RunConfig, ""), (ModelConfig, "model."), (TrainConfig, "train.")]
    for name in TASKS:
        task = get_task(name)
        classes += [(task.DataConfig, "data."), (task.ModelConfig, "model.")]
        assert f"## task: {name}" in text
    for cls, prefix in classes:
        for f in dataclasses.fields(cls):
            if cls is RunConfig and f.name in ("data", "model", "train"):
                continue
            assert f"| `{prefix}{f.name}` |" in text, f"{prefix}{f.name} missing"


def test_a_new_field_appears_with_type_default_bounds_and_help():
    @dataclasses.dataclass
    class Extra:
        """The ``data:`` section of something new."""

        window: int | None = option(None, "rows per window | or none", ge=2)
        columns: list[str] = option(["a", "b"], "which columns")

    table = fields_table(Extra, "data.")
    assert "| `data.window` | int or null, >= 2 | `null` | rows per window \\| or none |" in table
    assert "| `data.columns` | list of text | `[\"a\", \"b\"]` | which columns |" in table


def test_a_field_without_help_is_refused():
    @dataclasses.dataclass
    class Bare:
        size: int = 3

    try:
        fields_table(Bare, "data.")
    except ValueError as err:
        assert "data.size" in str(err) and "option(" in str(err)
    else:
        raise AssertionError("a key without help text was documented silently")


def test_generator_writes_a_file(tmp_path):
    out = tmp_path / "config.md"
    assert main(["-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == config_markdown()


def test_the_cli_prints_the_same_page(cli):
    proc = cli("config-docs")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == config_markdown()


def test_readme_links_the_config_reference():
    assert "docs/config.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- README.md and README.zh-CN.md

def _bash_blocks(path: Path) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def _setup_commands(path: Path) -> list[str]:
    """The two set-up commands: the code blocks that create the virtual environment."""
    return [b.strip() for b in _bash_blocks(path) if b.startswith("python3 -m venv .venv")]


def test_both_readmes_hold_the_same_two_setup_commands():
    english = _setup_commands(ROOT / "README.md")
    chinese = _setup_commands(ROOT / "README.zh-CN.md")
    assert len(english) == 2, "README.md should have two set-up commands (main job, tests)"
    assert chinese == english, ("README.zh-CN.md's set-up commands differ from README.md's; "
                                "copy them verbatim")


def test_the_readmes_link_each_other():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "README.zh-CN.md" in english.split("\n## ")[0]
    assert "README.md" in chinese.split("\n## ")[0]


def test_the_readme_lists_every_notebook():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "examples").glob("*.ipynb")):
        assert f"examples/{path.name}" in english, f"README.md does not list {path.name}"
