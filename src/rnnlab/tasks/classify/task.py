"""Sequence classification: a variable-length sequence in, one label out.

The datasets (names, reviews, check-ins, a labelled table of your own) arrive split
and encoded as :class:`~rnnlab.data.sequences.LabelledSequences`; this task batches
them with padding + ``PackedSequence`` (never one at a time), in buckets of similar
length. Metrics: accuracy, macro and weighted F1 each epoch on validation; on test
also per-class precision/recall/F1/support and the confusion matrix (scikit-learn),
accuracy@5 where the dataset asks for it, and accuracy split between test sequences
seen verbatim in training and the rest. The majority class of the training split is
the baseline beside every result.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)
from torch import Tensor, nn

from ... import figures
from ...config import data_label
from ...data.padding import Ragged, bucket_batches
from ...data.sequences import Part
from ...data.sources import sequences_for
from ...errors import ConfigError, DataError
from ...util import atomic_write
from ..base import LAB_KINDS, PredictOptions, Sample, Task, recurrent_layer, spread
from .config import ClassifyData, ClassifyModel, check_config
from .models import SequenceClassifier, TokenEncoder, TutorialRNN


class ClassifyTask(Task):
    name = "classify"
    DataConfig = ClassifyData
    ModelConfig = ClassifyModel
    monitor_mode = "max"
    hyperparams = [{**LAB_KINDS, "model.hidden_size": [32, 64, 128]},
                   {**LAB_KINDS, "train.batch_size": [32, 64, 128]},
                   {**LAB_KINDS, "train.lr": [1e-2, 1e-3, 1e-4]}]
    can_ensemble = True
    ensemble_figures = True
    same_rows = "one data config with one data.split_seed"
    check_config = staticmethod(check_config)

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d, m = cfg.data, cfg.model
        self.monitor = f"val_{d.monitor}"
        self.split_seed = cfg.seed if d.split_seed is None else d.split_seed
        self.data = sequences_for(d, cfg.seed, self.split_seed, m.embedding, data_dir, download)
        self.parts: dict[str, Part] = self.data.parts
        self.classes, self.vocab = self.data.classes, self.data.vocab
        for name, part in self.parts.items():
            if len(part.labels) == 0:
                raise DataError(f"the {name} split of {data_label(d)} is empty; raise "
                                f"data.limit or change data.split")
        counts = torch.bincount(self.parts["train"].labels, minlength=len(self.classes))
        self.majority = int(counts.argmax())
        self.class_weight = None
        if d.class_weights == "balanced":
            n, k = counts.sum().item(), len(self.classes)
            self.class_weight = (n / (k * counts.clamp(min=1).double())).float().to(self.device)
        self._epoch_preds: list[Tensor] = []
        self._epoch_truth: list[Tensor] = []
        self._test: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def names(self) -> list[str]:
        """The class names to show (English for codes such as the reviews' categories)."""
        return self.data.display_classes or self.classes

    def describe(self):
        out = {"dataset": data_label(self.cfg.data), "classes": len(self.classes),
               "vocab": len(self.vocab),
               "sequences": {k: len(p.labels) for k, p in self.parts.items()},
               "mean_length": {k: round(float(p.seqs.lengths.float().mean()), 2)
                               for k, p in self.parts.items()},
               "max_length": {k: int(p.seqs.lengths.max()) for k, p in self.parts.items()}}
        return {**out, **self.data.facts}

    def artifacts(self):
        """labels.json: class names and the vocabulary (alphabet / words / categories)."""
        d = self.cfg.data
        return {"labels.json": {
            "dataset": data_label(d), "target": d.target, "classes": self.classes,
            "vocab": self.vocab, "max_length": d.max_length,
            "input": ("token id" + (" + hour of day" if self.data.hours else ""))}}

    def example_input(self) -> tuple:
        raise ConfigError("a classifier reads packed batches of varying length, which "
                          "TorchScript tracing and ONNX export cannot take; export it with "
                          "--format state_dict")

    # -- model
    def build_model(self) -> nn.Module:
        m = self.cfg.model
        encoder = TokenEncoder(len(self.vocab), m.embedding, m.embedding_dim, self.data.hours,
                               self.data.pretrained, m.freeze_embedding)
        if m.form == "tutorial":
            layer = TutorialRNN(encoder.size, m.hidden_size, len(self.classes))
        else:
            layer = recurrent_layer(m, encoder.size)
        return SequenceClassifier(encoder, layer, len(self.classes), m.pooling, m.head_dropout,
                                  m.input_dropout)

    # -- training
    def num_train_batches(self) -> int:
        return math.ceil(len(self.parts["train"].labels) / self.cfg.train.batch_size)

    def train_batches(self, epoch):
        part = self.parts["train"]
        self._epoch_preds, self._epoch_truth = [], []
        gen = self.batch_generator(self.cfg.seed, epoch)
        for idx in bucket_batches(part.seqs.lengths, self.cfg.train.batch_size, gen):
            packed, _ = part.seqs.packed(idx)
            yield packed.to(self.device), part.labels[idx].to(self.device)

    def train_step(self, model, batch):
        packed, y = batch
        logits = model(packed)
        self._epoch_preds.append(logits.detach().argmax(1).cpu())
        self._epoch_truth.append(y.cpu())
        return F.cross_entropy(logits, y, weight=self.class_weight,
                               label_smoothing=self.cfg.data.label_smoothing), len(y)

    def train_metrics(self, mean_loss, items, seconds):
        out = {"train_loss": mean_loss}
        if self._epoch_preds:
            truth, pred = torch.cat(self._epoch_truth).numpy(), torch.cat(self._epoch_preds).numpy()
            out["train_accuracy"] = accuracy_score(truth, pred)
            out["train_f1_macro"] = f1_score(truth, pred, average="macro", zero_division=0)
        return out

    # -- evaluation
    @torch.no_grad()
    def logits(self, model: nn.Module, split: str, batch: int = 1024) -> Tensor:
        """Logits for every sequence of ``split``, in split order (batched by length)."""
        was_training = model.training
        model.eval()
        part = self.parts[split]
        order = torch.argsort(part.seqs.lengths, stable=True)
        out = torch.empty(len(order), len(self.classes))
        for idx in order.split(batch):
            packed, _ = part.seqs.packed(idx)
            out[idx] = model(packed.to(self.device)).float().cpu()
        model.train(was_training)
        return out

    def _metrics(self, truth: np.ndarray, logits: Tensor) -> dict[str, float]:
        pred = logits.argmax(1).numpy()
        out = {"loss": float(F.cross_entropy(logits, torch.from_numpy(truth),
                                             weight=None if self.class_weight is None
                                             else self.class_weight.cpu())),
               "accuracy": accuracy_score(truth, pred),
               "f1_macro": f1_score(truth, pred, average="macro", zero_division=0),
               "f1_weighted": f1_score(truth, pred, average="weighted", zero_division=0)}
        if self.data.top5:
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices.numpy()
            out["accuracy@5"] = float(np.mean((top == truth[:, None]).any(1)))
        return out

    def evaluate(self, model, split):
        return self._metrics(self.parts[split].labels.numpy(), self.logits(model, split))

    def baselines(self, split: str = "test") -> dict[str, dict[str, float]]:
        """Always predicting the training split's most frequent class."""
        truth = self.parts[split].labels.numpy()
        pred = np.full_like(truth, self.majority)
        out = {"accuracy": accuracy_score(truth, pred),
               "f1_macro": f1_score(truth, pred, average="macro", zero_division=0),
               "f1_weighted": f1_score(truth, pred, average="weighted", zero_division=0)}
        return {"majority_class": out}

    def test_report(self, model):
        truth = self.parts["test"].labels.numpy()
        logits = self.logits(model, "test")
        pred = logits.argmax(1).numpy()
        tables, cm = self.class_tables(truth, pred)
        self._test = (truth, pred, cm)
        return {"test": self._metrics(truth, logits), "baselines": self.baselines("test"),
                **tables, "seen_in_train": self.seen_in_train(truth, pred)}

    def class_tables(self, truth: np.ndarray, pred: np.ndarray) -> tuple[dict, np.ndarray]:
        """Per-class precision / recall / F1 / support (and, up to 30 classes, the confusion
        matrix) for summary.json, and the confusion matrix itself."""
        labels = np.arange(len(self.classes))
        p, r, f, s = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
        cm = confusion_matrix(truth, pred, labels=labels)
        per_class = {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, name in enumerate(self.classes)}
        tables = {"classes": self.classes, "per_class": per_class}
        if len(self.classes) <= 30:
            tables["confusion_matrix"] = cm.tolist()
        return tables, cm

    def seen_in_train(self, truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
        """Accuracy on the test sequences whose exact tokens also occur in training, and on
        the rest: memorisation vs generalisation (names repeat across languages, reviews
        repeat verbatim)."""
        def keys(seqs: Ragged) -> list[bytes]:
            v, o = seqs.values.numpy(), seqs.offsets.tolist()
            return [v[o[i]:o[i + 1]].tobytes() for i in range(len(seqs))]

        train = set(keys(self.parts["train"].seqs))
        seen = np.array([k in train for k in keys(self.parts["test"].seqs)], dtype=bool)
        right = truth == pred
        return {"share": float(seen.mean()) if len(seen) else 0.0, "count": int(seen.sum()),
                "accuracy_seen": float(right[seen].mean()) if seen.any() else None,
                "accuracy_unseen": float(right[~seen].mean()) if (~seen).any() else None}

    def fingerprint(self, split: str) -> str:
        """A digest of the split's sequences (as tokens, not ids) and labels: two runs with the
        same fingerprint were evaluated on the same rows, whatever their vocabularies' order."""
        part = self.parts[split]
        values = part.seqs.values
        digest = hashlib.sha256(json.dumps(self.classes, ensure_ascii=False).encode())
        digest.update("\x1f".join(self.vocab[i] for i in values[:, 0].tolist()).encode())
        for array in (values[:, 1:], part.seqs.lengths, part.labels):
            digest.update(array.contiguous().numpy().tobytes())
        return digest.hexdigest()

    def figures(self, model, run_dir: Path, history):
        run_dir = Path(run_dir)
        paths = [figures.loss_curve(history, run_dir / "loss.png")]
        paths.append(figures.classification_curves(history, run_dir / "metrics.png"))
        if self._test is None:
            self.test_report(model)
        return paths + self.confusion_figures(*self._test, run_dir)

    def confusion_figures(self, truth: np.ndarray, pred: np.ndarray, cm: np.ndarray,
                          out_dir: Path) -> list[Path]:
        """confusion.csv, confusion.png (row-normalised) and per_class_f1.png in ``out_dir``."""
        out_dir = Path(out_dir)
        names = self.names
        atomic_write(out_dir / "confusion.csv",
                     lambda tmp: np.savetxt(tmp, cm, fmt="%d", delimiter=","))
        paths = []
        shown = np.arange(len(names))
        if len(names) > 30:  # the 30 most frequent test classes keep the heatmap readable
            shown = np.sort(np.argsort(-cm.sum(1), kind="stable")[:30])
        paths.append(figures.confusion_heatmap(cm[np.ix_(shown, shown)],
                                               [names[i] for i in shown],
                                               out_dir / "confusion.png"))
        f1 = f1_score(truth, pred, labels=shown, average=None, zero_division=0)
        paths.append(figures.per_class_bars([names[i] for i in shown], f1,
                                            out_dir / "per_class_f1.png"))
        return paths

    # -- describing results
    @classmethod
    def summary_lines(cls, summary):
        """Test accuracy on the sequences also seen in training, and on the rest."""
        seen = summary.get("seen_in_train")
        if not seen or seen["accuracy_seen"] is None or seen["accuracy_unseen"] is None:
            return []
        return [f"  {seen['share']:.1%} of test sequences also occur in training: accuracy "
                f"{seen['accuracy_seen']:.3f} on them, {seen['accuracy_unseen']:.3f} on the rest"]

    # -- use a trained model
    def encode_texts(self, texts: list[str]) -> Ragged:
        """New texts as token-id sequences, the way the training data was encoded."""
        if self.data.encode is None:
            raise ConfigError("predicting from text works for names, reviews and your own "
                              f"labelled_csv; {data_label(self.cfg.data)} sequences come from "
                              "the dataset (use `rnnlab eval`)")
        if not texts or any(not t.strip() for t in texts):
            raise ConfigError("give at least one non-empty text to classify")
        seqs = self.data.encode(texts)
        flat = torch.tensor([i for s in seqs for i in s], dtype=torch.int64)[:, None]
        return Ragged.from_lengths(flat, torch.tensor([len(s) for s in seqs]))

    @torch.no_grad()
    def predict(self, model, inputs, top: int = 3, **options) -> list[list[tuple[str, float]]]:
        """The ``top`` most likely classes of each text (a string or a list), with their
        probabilities."""
        if top < 1:
            raise ConfigError(f"--top must be at least 1, got {top}")
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        seqs = self.encode_texts(texts)
        model.eval()
        packed, _ = seqs.packed(torch.arange(len(texts)))
        probs = torch.softmax(model(packed.to(self.device)).float().cpu(), dim=1)
        values, index = probs.topk(min(top, len(self.names)), dim=1)
        return [[(self.names[i], float(p)) for p, i in zip(vs, ix)]
                for vs, ix in zip(values.tolist(), index.tolist())]

    @classmethod
    def check_predict_inputs(cls, inputs, options):
        if not inputs:
            raise ConfigError("give texts to classify, e.g. rnnlab predict RUN Dovesky Satoshi, "
                              "or --file FILE with one per line")

    def predict_command(self, model, inputs, options: PredictOptions):
        ranked = self.predict(model, inputs, top=options.top)
        return [f"{text}: " + ", ".join(f"{label} {p:.1%}" for label, p in pairs)
                for text, pairs in zip(inputs, ranked)]

    # -- look inside
    def inspect_samples(self, count, texts=None):
        if texts:
            seqs = self.encode_texts(texts)
            return [Sample((seqs.packed(torch.tensor([k]))[0].to(self.device),), None, text,
                           self._tokens(seqs, k)) for k, text in enumerate(texts)]
        part = self.parts["test"]
        samples = []
        for k in spread(count, len(part.labels)):
            tokens = self._tokens(part.seqs, k)
            text = ("" if all(len(t) == 1 for t in tokens) else " ").join(tokens)
            label = int(part.labels[k])
            samples.append(Sample((part.seqs.packed(torch.tensor([k]))[0].to(self.device),),
                                  part.labels[k:k + 1].to(self.device),
                                  f"{text[:60]} -> {self.names[label]}", tokens))
        return samples

    def _tokens(self, seqs: Ragged, k: int) -> list[str]:
        ids = seqs.values[seqs.offsets[k]:seqs.offsets[k + 1], 0].tolist()
        return [self.vocab[i] for i in ids]

    def sample_loss(self, model, sample):
        """Cross-entropy of the true class; on the user's text, of the predicted one."""
        logits = model(*sample.inputs)
        target = logits.argmax(1).detach() if sample.target is None else sample.target
        return F.cross_entropy(logits, target)

    # -- ensembles of runs
    def ensemble_output(self, model, split):
        logits = self.logits(model, split)
        probs = torch.softmax(logits.double(), dim=1).numpy()
        return probs, self._metrics(self.parts[split].labels.numpy(), logits)

    def ensemble_report(self, mean, split, figures_dir=None):
        """Metrics of the averaged probabilities (their log is the ensemble's cross-entropy),
        per-class tables, the seen-in-train split on test, and the figures if asked."""
        truth = self.parts[split].labels.numpy()
        metrics = self._metrics(truth, torch.from_numpy(mean).clamp_min(1e-300).log().float())
        pred = mean.argmax(1)
        tables, cm = self.class_tables(truth, pred)
        out = {"ensemble": metrics, **tables}
        if split == "test":
            out["seen_in_train"] = self.seen_in_train(truth, pred)
        if figures_dir is not None:
            Path(figures_dir).mkdir(parents=True, exist_ok=True)
            out["figures"] = [str(p) for p in self.confusion_figures(truth, pred, cm,
                                                                     Path(figures_dir))]
        return out
