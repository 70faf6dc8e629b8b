"""Export a run's model as a state_dict, TorchScript or ONNX file that loads without rnnlab.

Scratch layers are swapped for torch.nn layers holding the same weights (they share
torch.nn's parameter names and gate order), so exporters know every layer; ONNX files
are checked against the model's own outputs.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import torch
from torch import nn

from . import nn as rnn
from .errors import ConfigError, DataError
from .rundir import RunFolder
from .util import atomic_write

EXPORT_FORMATS = ("state_dict", "torchscript", "onnx")


def to_torch_layers(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose rnnlab.nn layers are torch.nn layers with the same weights
    (the minimal cells, which torch.nn lacks, run their step loop of plain operations).

    Scratch layers share torch.nn's parameter names and gate order, so their
    state_dict loads unchanged; exporters (TorchScript, ONNX) know torch.nn's layers.
    """
    model = copy.deepcopy(model)
    for name, child in list(model.named_children()):
        if isinstance(child, rnn.MinRNNBase):  # no torch.nn twin: its plain-op reference loop
            child.fast = False
        elif isinstance(child, rnn.RNNBase):
            args = dict(input_size=child.input_size, hidden_size=child.hidden_size,
                        num_layers=child.num_layers, bias=child.bias,
                        batch_first=child.batch_first, dropout=child.dropout,
                        bidirectional=child.bidirectional)
            if child.mode == "LSTM" and getattr(child, "proj_size", 0):
                args["proj_size"] = child.proj_size
            if child.mode.startswith("RNN"):
                args["nonlinearity"] = child.nonlinearity
            cls = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(child.mode, nn.RNN)
            layer = cls(**args)
            layer.load_state_dict(child.state_dict())
            setattr(model, name, layer)
        else:
            setattr(model, name, to_torch_layers(child))
    return model


def export_run(ref: str, fmt: str, out: str | Path | None = None, *,
               runs_dir: str | Path = "runs", data_dir=None, download: bool = False) -> Path:
    """Write the run's model as a state_dict, TorchScript or ONNX file; return its path."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of "
                          f"{', '.join(EXPORT_FORMATS)}")
    run = RunFolder.find(ref, runs_dir).load(data_dir, download)
    suffix = {"state_dict": ".pt", "torchscript": ".torchscript.pt", "onnx": ".onnx"}[fmt]
    out = Path(out) if out else run.run_dir / f"model{suffix}"
    if fmt == "state_dict":
        atomic_write(out, lambda tmp: torch.save(run.model.state_dict(), tmp))
        return out
    model = to_torch_layers(run.model).eval()
    example = run.task.example_input()
    with torch.no_grad():
        expected = model(*example)
    if isinstance(expected, tuple):  # a language model's (logits, state): check the logits
        expected = expected[0]
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, example)
        atomic_write(out, lambda tmp: traced.save(str(tmp)))
        return out
    try:
        import onnx  # noqa: F401  (the exporter needs it; say so before tracing)
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'rnnlab[export]'"
                          ) from None
    names = [f"input{i}" for i in range(len(example))]

    def write(tmp: Path) -> None:  # checked before it takes the file's name
        with warnings.catch_warnings():  # tracer notes about shapes: the check is the proof
            warnings.simplefilter("ignore")
            torch.onnx.export(model, example, str(tmp), input_names=names,
                              output_names=["output"], dynamo=False,
                              dynamic_axes={n: {0: "batch"} for n in names + ["output"]})
        check_onnx(tmp, example, expected)
    return atomic_write(out, write)


def check_onnx(path: Path, example: tuple, expected: torch.Tensor) -> None:
    """Check the file with the ONNX checker and, when onnxruntime is installed, its outputs."""
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), example)}
    (got,) = session.run(None, feeds)[:1]
    if not torch.allclose(torch.as_tensor(got), expected.float(), rtol=1e-4, atol=1e-5):
        path.unlink()
        raise DataError(f"the ONNX export of this model does not reproduce its outputs "
                        f"(max difference {(torch.as_tensor(got) - expected).abs().max():.3g}); "
                        "export it as torchscript or state_dict instead")
