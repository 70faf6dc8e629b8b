"""One epoch of the surname classifier: packed batches vs the tutorial's one name at a time.

The PyTorch char-RNN tutorial trains its i2h/i2o RNN on one name per step,
feeding one letter at a time. rnnlab pads and packs a batch of names and runs
every name of the batch in one pass per time step. Both run the same
model (``TutorialRNN``: identical weights and function), with the same number of
names per epoch; the packed path is also timed with a scratch LSTM (hidden 64).

    python benchmarks/names_epoch.py [--names 4000] [--batch-size 64] [--repeats 3]

Prints names per second and the ratio, measured in the same process. Set
OMP_NUM_THREADS=1 on a shared machine for steadier figures.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab import nn as rnn
from rnnlab.config import TrainConfig
from rnnlab.data.padding import Ragged, bucket_batches
from rnnlab.data.sources import names
from rnnlab.tasks.classify import SequenceClassifier, TokenEncoder, TutorialRNN
from rnnlab.train import make_optimizer


def tutorial_epoch(net: TutorialRNN, letters: list[torch.Tensor], labels: torch.Tensor,
                   lr: float = 0.005) -> float:
    """The tutorial's loop: per name, per letter, then a manual SGD step; returns seconds."""
    began = time.perf_counter()
    for x, y in zip(letters, labels):
        h = torch.zeros(1, net.hidden_size)
        for t in range(len(x)):
            combined = torch.cat([x[t:t + 1], h], 1)
            h, out = net.i2h(combined), net.i2o(combined)
        loss = F.nll_loss(net.softmax(out), y.view(1))
        net.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(p.grad, alpha=-lr)
    return time.perf_counter() - began


def packed_epoch(model: torch.nn.Module, seqs: Ragged, labels: torch.Tensor, batch_size: int,
                 seed: int) -> float:
    """Bucketed, padded + packed batches with Adam, as the classify task trains; seconds."""
    opt = make_optimizer(model.parameters(), TrainConfig(optimizer="adam", lr=1e-3))
    began = time.perf_counter()
    for idx in bucket_batches(seqs.lengths, batch_size, torch.Generator().manual_seed(seed)):
        packed, _ = seqs.packed(idx)
        loss = F.cross_entropy(model(packed), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--names", type=int, default=4000, help="names per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many epochs")
    args = parser.parse_args()

    data = names.load()
    pick = np.random.default_rng(0).choice(len(data.texts), args.names, replace=False)
    texts, labels = [data.texts[i] for i in pick], torch.from_numpy(data.labels[pick])
    ids = [torch.tensor([names.ALPHABET.index(c) for c in t]) for t in texts]
    letters = [F.one_hot(i, 57).float() for i in ids]  # the tutorial's lineToTensor
    seqs = Ragged.from_sequences([i[:, None] for i in ids])

    torch.manual_seed(0)
    tutorial = TutorialRNN(57, 128, 18)
    batched = SequenceClassifier(TokenEncoder(57, "onehot"), TutorialRNN(57, 128, 18), 18)
    batched.rnn.load_state_dict(tutorial.state_dict())
    lstm = SequenceClassifier(TokenEncoder(57, "onehot"),
                              rnn.build_rnn("lstm", "scratch", input_size=57, hidden_size=64,
                                            batch_first=True), 18)
    times = {"tutorial loop, one name at a time": [], "packed batches, same RNN": [],
             "packed batches, scratch LSTM 64": []}
    for r in range(args.repeats):  # interleaved, so load changes hit all three alike
        times["tutorial loop, one name at a time"].append(tutorial_epoch(tutorial, letters, labels))
        times["packed batches, same RNN"].append(
            packed_epoch(batched, seqs, labels, args.batch_size, r))
        times["packed batches, scratch LSTM 64"].append(
            packed_epoch(lstm, seqs, labels, args.batch_size, r))
    base = min(times["tutorial loop, one name at a time"])
    print(f"{args.names} names per epoch, batch size {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}, best of {args.repeats}")
    for label, ts in times.items():
        best = min(ts)
        print(f"  {label:<36} {best:8.2f} s  {args.names / best:9.0f} names/s  "
              f"x{base / best:6.1f}")


if __name__ == "__main__":
    main()
