"""One training loop for every task: optimiser, clipping, schedule, early stop, checkpoints.

The loop knows nothing about data: the task hands it batches, a loss per batch
and metrics per epoch. After every epoch it writes ``last.pt`` (atomically:
a crash never leaves half a checkpoint) holding everything needed to continue
exactly where it stopped, and ``best.pt`` whenever the monitored validation
metric improves. Shuffling depends only on (seed, epoch) and the random state is
checkpointed, so a resumed run reproduces an uninterrupted one. With ``train.ema``
the model is evaluated, and ``best.pt`` written, with a moving average of its weights.
"""

from __future__ import annotations

import errno
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from .config import RunConfig, TrainConfig
from .errors import DataError, TrainingError
from .rundir import BEST, LAST, PREVIOUS
from .tasks import Task
from .util import atomic_write

CHECKPOINT_FORMAT = 1


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser named in ``train.optimizer`` with its settings.

    SGD, Adam and AdamW use torch's fused kernel (one pass over all parameters; the same
    update to rounding) where it exists: on small models the step costs 2-3x less.
    """
    params = list(params)
    fused = {"fused": True} if all(p.device.type in ("cpu", "cuda") and p.is_floating_point()
                                   for p in params) else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay, **fused)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)


def make_scheduler(optimizer, cfg: TrainConfig, mode: str = "min"):
    """The learning-rate schedule of ``train.scheduler`` (None for 'none'); ``mode``: whether
    the figure the plateau schedule watches is to be minimised or maximised."""
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size,
                                               gamma=cfg.gamma)
    if cfg.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode,
                                                          factor=cfg.gamma, patience=2)
    return None


def save_atomic(obj, path: Path, keep_previous: Path | None = None) -> None:
    """torch.save to a temporary file, then rename: readers see the old or the new file.

    A full disk stops training with a clear error; the checkpoint already there is kept.
    """
    try:
        atomic_write(path, lambda tmp: torch.save(obj, tmp), keep_previous)
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        raise TrainingError(f"the disk is full: {path.name} of epoch {obj['epoch']} could not "
                            f"be written to {path.parent}; the checkpoint written before it is "
                            "kept. Free some space, then continue with `rnnlab run --resume "
                            f"{path.parent.name}`.") from None


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    train_seconds: float = 0.0
    stopped_early: bool = False
    warnings: list[str] = field(default_factory=list)


def _out_of_memory(err: BaseException) -> bool:
    """True for CUDA and CPU allocation failures (CPU ones are plain RuntimeErrors)."""
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(err, RuntimeError) and ("can't allocate memory" in str(err)
                                              or "out of memory" in str(err))


def _improved(value: float, best: float | None, mode: str) -> bool:
    if value is None or math.isnan(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def fit(task: Task, model: nn.Module, cfg: RunConfig, run_dir: Path, *,
        resume_from: dict | None = None, progress: bool = True,
        on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``model`` on ``task`` for ``cfg.train.epochs``, checkpointing into ``run_dir``;
    ``resume_from`` is the ``last.pt`` of an interrupted run, continued where it stopped."""
    t = cfg.train
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(params, t)
    # the plateau schedule watches what picks the best epoch, in its own direction (a
    # negated accuracy turned torch's relative threshold around: ties counted as gains)
    mode = task.monitor_mode if task.has_validation else "min"
    scheduler = make_scheduler(optimizer, t, mode)
    # the averaged copy is what is evaluated and kept as best.pt (same keys as the model)
    ema = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(t.ema), use_buffers=True)
           if t.ema else None)
    judged = ema.module if ema is not None else model
    result = FitResult()
    bad_epochs, start = 0, 1
    last_path, best_path = run_dir / LAST, run_dir / BEST
    if resume_from is not None:
        ckpt = resume_from
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        # a plateau state saved in the other direction (before the fix above) starts afresh
        if scheduler is not None and ckpt.get("scheduler") and ckpt["scheduler"].get(
                "mode", mode) == mode:
            scheduler.load_state_dict(ckpt["scheduler"])
        if ema is not None:
            if not ckpt.get("ema"):
                raise DataError(f"{last_path} was written without train.ema; resume with the "
                                "run's own config or start a new run.")
            ema.load_state_dict(ckpt["ema"])
        torch.set_rng_state(ckpt["rng"])
        task.load_state_dict(ckpt.get("task", {}))
        result = FitResult(ckpt["history"], ckpt["best_epoch"], ckpt["best_value"],
                           ckpt["train_seconds"], warnings=ckpt.get("warnings", []))
        bad_epochs, start = ckpt["bad_epochs"], ckpt["epoch"] + 1

    eval_split = "val" if task.has_validation else "test"
    monitor = task.monitor if task.has_validation else None
    bar = tqdm(range(start, t.epochs + 1), desc=f"{cfg.name} {cfg.model.kind}/{cfg.model.impl}",
               unit="epoch", disable=not progress, dynamic_ncols=True)
    for epoch in bar:
        model.train()
        total, items, step = 0.0, 0, 0
        norms = []
        began = time.perf_counter()
        try:
            for step, batch in enumerate(task.train_batches(epoch), 1):
                loss, n = task.train_step(model, batch)
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"the loss became {loss.item()} at epoch {epoch}, step {step}. Lower "
                        f"train.lr (now {t.lr:g}) or set train.clip (e.g. 1.0). The last good "
                        f"checkpoint is {last_path if last_path.exists() else 'not written yet'}.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                norm = nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
                if t.clip:
                    nn.utils.clip_grads_with_norm_(params, t.clip, norm)
                norms.append(norm)
                optimizer.step()
                if ema is not None:
                    ema.update_parameters(model)
                task.after_step(judged)
                total += loss.item() * n
                items += n
            seconds = time.perf_counter() - began
            row = {"epoch": epoch, **task.train_metrics(total / max(items, 1), items, seconds),
                   "lr": optimizer.param_groups[0]["lr"], "epoch_seconds": seconds}
            row.update({f"{eval_split}_{k}": v
                        for k, v in task.evaluate(judged, eval_split).items()})
        except (RuntimeError, MemoryError) as err:
            if not _out_of_memory(err):
                raise
            raise TrainingError(
                f"out of memory at epoch {epoch}, step {step} on {task.device}. Lower "
                f"train.batch_size (now {t.batch_size}, e.g. --set train.batch_size="
                f"{max(t.batch_size // 2, 1)}) or model.hidden_size (now "
                f"{cfg.model.hidden_size}).") from None
        result.train_seconds += seconds
        grad_norm = float(torch.stack(norms).max()) if norms else 0.0
        row["grad_norm"] = grad_norm  # largest gradient norm before clipping, this epoch
        if grad_norm > t.grad_warn:
            message = (f"warning: gradient norm reached {grad_norm:.3g} in epoch {epoch} "
                       f"(train.grad_warn={t.grad_warn:g}): gradients may be exploding; "
                       + ("lower train.lr or train.clip" if t.clip
                          else "set train.clip (e.g. 1.0) or lower train.lr"))
            result.warnings.append(message)
            tqdm.write(message, file=sys.stderr)
        result.history.append(row)

        value = row.get(monitor) if monitor else None
        if monitor is None or _improved(value, result.best_value, task.monitor_mode):
            result.best_epoch, result.best_value = epoch, value
            bad_epochs = 0
            save_atomic({"epoch": epoch, "model": judged.state_dict()}, best_path)
        else:
            bad_epochs += 1
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(value if value is not None else row["train_loss"])
        elif scheduler is not None:
            scheduler.step()
        stop = t.patience is not None and monitor is not None and bad_epochs >= t.patience
        save_atomic({"format": CHECKPOINT_FORMAT, "epoch": epoch, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict() if scheduler else None,
                     "ema": ema.state_dict() if ema is not None else None,
                     "rng": torch.get_rng_state(), "history": result.history,
                     "best_epoch": result.best_epoch, "best_value": result.best_value,
                     "bad_epochs": bad_epochs, "train_seconds": result.train_seconds,
                     "warnings": result.warnings, "task": task.state_dict()}, last_path,
                    keep_previous=run_dir / PREVIOUS)  # resume falls back on it if last.pt breaks
        if on_epoch:
            on_epoch(row)
        bar.set_postfix({k: f"{row[k]:.4g}" for k in ("train_loss", monitor or f"{eval_split}_loss")
                         if k in row})
        if stop:
            result.stopped_early = True
            break
    return result
