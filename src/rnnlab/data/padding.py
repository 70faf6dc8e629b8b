"""Variable-length sequences -> padded tensors and ``PackedSequence`` batches, and back.

A batch of sequences of different lengths is padded to the longest one and
packed (``pack_padded_sequence(..., enforce_sorted=False)``), so a recurrent
layer runs each sequence for exactly its own number of steps and its final
state is taken at its own last step, with the batch in its original order.

Two ways in:

* :func:`collate` for a DataLoader-style list of ``(sequence, label)`` samples;
* :class:`Ragged` for a whole split stored as one flat array plus offsets
  (CSR layout): :meth:`Ragged.batch` builds a padded batch for any set of
  indices with array indexing alone, no Python loop over samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence


def lengths_of(seqs: Sequence) -> Tensor:
    """The length of every sequence, as an int64 tensor."""
    return torch.tensor([len(s) for s in seqs], dtype=torch.int64)


def pad(seqs: Sequence, padding_value: float = 0, batch_first: bool = True) -> tuple[Tensor, Tensor]:
    """Pad sequences (tensors, arrays or lists) at the end to the longest: (padded, lengths)."""
    if len(seqs) == 0:
        raise ValueError("cannot pad an empty list of sequences")
    tensors = [torch.as_tensor(np.asarray(s)) if not isinstance(s, Tensor) else s for s in seqs]
    lengths = lengths_of(tensors)
    if (lengths == 0).any():
        raise ValueError(f"sequence {int((lengths == 0).nonzero()[0])} is empty; every sequence "
                         f"needs at least one step to be packed")
    return pad_sequence(tensors, batch_first=batch_first, padding_value=padding_value), lengths


def pack(padded: Tensor, lengths: Tensor, batch_first: bool = True) -> PackedSequence:
    """Pack a padded batch in any order of lengths (the original order is restored on unpack)."""
    return pack_padded_sequence(padded, lengths.cpu(), batch_first=batch_first,
                                enforce_sorted=False)


def pad_and_pack(seqs: Sequence, padding_value: float = 0,
                 batch_first: bool = True) -> tuple[PackedSequence, Tensor]:
    """Sequences of different lengths -> (PackedSequence with enforce_sorted=False, lengths)."""
    padded, lengths = pad(seqs, padding_value, batch_first)
    return pack(padded, lengths, batch_first), lengths


def unpack(packed: PackedSequence, batch_first: bool = True,
           padding_value: float = 0) -> tuple[Tensor, Tensor]:
    """A PackedSequence -> (padded tensor in the original batch order, lengths)."""
    return pad_packed_sequence(packed, batch_first=batch_first, padding_value=padding_value)


def map_packed(fn, packed: PackedSequence) -> PackedSequence:
    """Apply ``fn`` to the packed rows only (e.g. an embedding): padding is never computed."""
    return PackedSequence(fn(packed.data), packed.batch_sizes, packed.sorted_indices,
                          packed.unsorted_indices)


def collate(batch: Sequence[tuple]) -> tuple[PackedSequence, Tensor, Tensor]:
    """DataLoader ``collate_fn``: ``[(sequence, label), ...]`` -> (packed, lengths, labels)."""
    seqs, labels = zip(*batch)
    packed, lengths = pad_and_pack(seqs)
    return packed, lengths, torch.as_tensor(np.asarray(labels))


def valid_mask(lengths: Tensor, steps: int | None = None) -> Tensor:
    """(batch, steps) boolean mask, True at the valid (non-padding) positions."""
    steps = int(lengths.max()) if steps is None else steps
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def last_valid(padded: Tensor, lengths: Tensor) -> Tensor:
    """(batch, steps, F) batch-first outputs -> (batch, F): each sequence's own last step."""
    index = (lengths.to(padded.device) - 1).view(-1, 1, 1).expand(-1, 1, padded.shape[2])
    return padded.gather(1, index).squeeze(1)


def last_rows(batch_sizes: Tensor) -> Tensor:
    """Row of each sequence's own last step in a PackedSequence's ``data``, in packed (sorted,
    longest first) order: step ``t`` starts at row ``sum(batch_sizes[:t])`` and sequence ``j``
    is row ``j`` of every step it reaches."""
    rank = torch.arange(int(batch_sizes[0]))
    lengths = (batch_sizes[None, :] > rank[:, None]).sum(1)
    starts = torch.cumsum(batch_sizes, 0) - batch_sizes
    return starts[lengths - 1] + rank


def masked_mean(padded: Tensor, lengths: Tensor) -> Tensor:
    """Mean over the valid steps of each sequence of a batch-first (batch, steps, F) tensor."""
    mask = valid_mask(lengths.to(padded.device), padded.shape[1]).unsqueeze(2)
    total = (padded * mask).sum(1)
    return total / lengths.to(padded.device, padded.dtype).unsqueeze(1)


def masked_max(padded: Tensor, lengths: Tensor) -> Tensor:
    """Max over the valid steps of each sequence (padding never wins)."""
    mask = valid_mask(lengths.to(padded.device), padded.shape[1]).unsqueeze(2)
    return padded.masked_fill(~mask, float("-inf")).max(1).values


@dataclass
class Ragged:
    """Many variable-length sequences stored as one flat array plus offsets.

    Sequence i is ``values[offsets[i]:offsets[i + 1]]`` (rows of shape ``values.shape[1:]``).
    """

    values: Tensor  # (total steps, *features)
    offsets: Tensor  # (n + 1,) int64, offsets[0] == 0

    @classmethod
    def from_sequences(cls, seqs: Sequence) -> Ragged:
        """Concatenate a list of sequences (one pass, at preparation time)."""
        lengths = lengths_of(seqs)
        offsets = torch.zeros(len(seqs) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(lengths, 0)
        values = torch.cat([torch.as_tensor(np.asarray(s)) for s in seqs]) if len(seqs) else \
            torch.zeros(0, dtype=torch.int64)
        return cls(values, offsets)

    @classmethod
    def from_lengths(cls, values: Tensor, lengths: Tensor) -> Ragged:
        """Wrap an already concatenated array whose pieces have the given lengths."""
        offsets = torch.zeros(len(lengths) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(torch.as_tensor(lengths, dtype=torch.int64), 0)
        if int(offsets[-1]) != len(values):
            raise ValueError(f"lengths add up to {int(offsets[-1])} but there are "
                             f"{len(values)} values")
        return cls(torch.as_tensor(values), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def __getitem__(self, i: int) -> Tensor:
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    def batch(self, index: Tensor, padding_value: float = 0) -> tuple[Tensor, Tensor]:
        """Sequences ``index`` as a batch-first padded tensor and their lengths, vectorised.

        Positions past a sequence's end read any row and are then overwritten
        with ``padding_value``: one gather and one masked fill for the whole batch.
        """
        index = torch.as_tensor(index, dtype=torch.int64)
        starts = self.offsets[index]
        lengths = self.offsets[index + 1] - starts
        steps = int(lengths.max()) if len(index) else 0
        positions = starts[:, None] + torch.arange(steps)[None, :]
        mask = positions < (starts + lengths)[:, None]
        positions = positions.clamp(max=max(len(self.values) - 1, 0))
        padded = self.values[positions]
        fill = ~mask.view(*mask.shape, *([1] * (padded.dim() - 2)))
        return padded.masked_fill(fill, padding_value), lengths

    def packed(self, index: Tensor) -> tuple[PackedSequence, Tensor]:
        """Sequences ``index`` as a PackedSequence (batch order kept) and their lengths."""
        padded, lengths = self.batch(index)
        if (lengths == 0).any():
            raise ValueError("an empty sequence cannot be packed")
        return pack(padded, lengths), lengths


def bucket_batches(lengths: Tensor, batch_size: int, generator: torch.Generator | None = None,
                   pool: int = 50) -> list[Tensor]:
    """Shuffled batches of indices whose sequences have similar lengths.

    The indices are shuffled, cut into pools of ``pool`` batches, sorted by length
    inside each pool, cut into batches, and the batches are shuffled: every
    epoch differs, yet a batch wastes few steps on sequences that already ended.
    """
    n = len(lengths)
    order = torch.randperm(n, generator=generator)
    chunk = batch_size * pool
    batches: list[Tensor] = []
    for start in range(0, n, chunk):  # loops over pools, not samples
        part = order[start:start + chunk]
        part = part[torch.argsort(lengths[part], stable=True)]
        batches.extend(part.split(batch_size))
    shuffle = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in shuffle.tolist()]
