"""Optional TensorBoard logging of a run: per-epoch scalars, figures and hyperparameters."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg

from .errors import ConfigError
from .util import flatten


class TensorBoardLog:
    """Writes under ``run_dir/tensorboard``; view with ``tensorboard --logdir runs``."""

    def __init__(self, run_dir: Path) -> None:
        try:  # the optional tensorboard extra
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: "
                              "pip install 'rnnlab[tensorboard]' (or pip install tensorboard)"
                              ) from None
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def epoch(self, row: dict) -> None:
        """One metrics.csv row: train_* / val_* / test_* go to their own sections."""
        step = int(row["epoch"])
        for key, value in row.items():
            if key == "epoch" or not isinstance(value, (int, float)):
                continue
            section, _, name = key.partition("_")
            tag = f"{section}/{name}" if section in ("train", "val", "test") else f"run/{key}"
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def finish(self, cfg: dict, summary: dict, figures: list[Path]) -> None:
        """Figures as images, and the config next to the final test metrics (hparams view)."""
        for path in figures:
            if Path(path).suffix == ".png" and Path(path).is_file():
                image = mpimg.imread(path)
                self.writer.add_image(f"figures/{Path(path).stem}", image,
                                      dataformats="HWC" if image.ndim == 3 else "HW")
        hparams = {k: v for k, v in flatten(cfg).items()  # scalars only; quick: is no setting
                   if isinstance(v, (int, float, str, bool)) and not k.startswith("quick")}
        metrics = {f"test/{k}": v for k, v in summary.get("test", {}).items()
                   if isinstance(v, (int, float))}
        self.writer.add_hparams(hparams, metrics, run_name=".")
        self.writer.close()
