"""Known answers for padding, packing, the length-aware collate and vectorised batches."""

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence

from rnnlab.data.padding import (Ragged, bucket_batches, collate, last_rows, last_valid,
                                 masked_max, masked_mean, pad, pad_and_pack, unpack, valid_mask)

# The slides' example batch (002, "不等长序列填充&打包").
SEQS = [[4, 3, 2, 1, 9, 6, 9, 1], [5, 6, 8, 9, 2], [4, 4, 5, 9], [1, 2, 3, 7, 7, 8]]
PADDED = [[4, 3, 2, 1, 9, 6, 9, 1],
          [5, 6, 8, 9, 2, 0, 0, 0],
          [4, 4, 5, 9, 0, 0, 0, 0],
          [1, 2, 3, 7, 7, 8, 0, 0]]


def test_pad_matches_the_slides():
    padded, lengths = pad(SEQS)
    assert padded.tolist() == PADDED
    assert lengths.tolist() == [8, 5, 4, 6]


def test_pack_unsorted_batch_and_back():
    packed, lengths = pad_and_pack(SEQS)
    assert isinstance(packed, PackedSequence)
    # active sequences per step: 4 until the shortest (4) ends, then 3, 2 (len 6), 1, 1
    assert packed.batch_sizes.tolist() == [4, 4, 4, 4, 3, 2, 1, 1]
    # step 0 in order of decreasing length: seq 0 (8), seq 3 (6), seq 1 (5), seq 2 (4)
    assert packed.data[:4].tolist() == [4, 1, 5, 4]
    assert packed.sorted_indices.tolist() == [0, 3, 1, 2]
    assert len(packed.data) == sum(len(s) for s in SEQS)  # no padding inside
    back, back_lengths = unpack(packed)
    assert back.tolist() == PADDED and back_lengths.tolist() == [8, 5, 4, 6]


def test_empty_sequence_is_refused():
    with pytest.raises(ValueError, match="empty"):
        pad([[1, 2], []])


def test_collate_for_a_dataloader():
    batch = [(torch.tensor(s), label) for s, label in zip(SEQS, [3, 1, 0, 2])]
    packed, lengths, labels = collate(batch)
    assert unpack(packed)[0].tolist() == PADDED
    assert lengths.tolist() == [8, 5, 4, 6] and labels.tolist() == [3, 1, 0, 2]
    loader = torch.utils.data.DataLoader(batch, batch_size=2, collate_fn=collate)
    first = next(iter(loader))
    assert unpack(first[0])[0].tolist() == [PADDED[0], PADDED[1]]


def test_ragged_batch_equals_padding_each_sequence():
    ragged = Ragged.from_sequences([torch.tensor(s) for s in SEQS])
    assert ragged.lengths.tolist() == [8, 5, 4, 6]
    assert ragged[3].tolist() == SEQS[3]
    padded, lengths = ragged.batch(torch.tensor([2, 0, 3]), padding_value=-1)
    assert lengths.tolist() == [4, 8, 6]
    assert padded.tolist() == [[4, 4, 5, 9, -1, -1, -1, -1], PADDED[0],
                               [1, 2, 3, 7, 7, 8, -1, -1]]
    packed, _ = ragged.packed(torch.tensor([1, 2]))
    assert unpack(packed)[0].tolist() == [[5, 6, 8, 9, 2], [4, 4, 5, 9, 0]]


def test_ragged_with_feature_columns():
    values = torch.arange(12).view(6, 2)  # rows of two features
    ragged = Ragged.from_lengths(values, torch.tensor([1, 3, 2]))
    padded, lengths = ragged.batch(torch.tensor([1, 0, 2]))
    assert padded.shape == (3, 3, 2)
    assert padded[0].tolist() == [[2, 3], [4, 5], [6, 7]]
    assert padded[1].tolist() == [[0, 1], [0, 0], [0, 0]]
    assert padded[2].tolist() == [[8, 9], [10, 11], [0, 0]]
    with pytest.raises(ValueError, match="add up"):
        Ragged.from_lengths(values, torch.tensor([1, 1]))


def test_pooling_over_valid_steps_only():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[-2.0], [-4.0], [-6.0]]])
    lengths = torch.tensor([2, 3])
    assert valid_mask(lengths).tolist() == [[True, True, False], [True, True, True]]
    assert last_valid(x, lengths).tolist() == [[3.0], [-6.0]]
    assert masked_mean(x, lengths).tolist() == [[2.0], [-4.0]]
    assert masked_max(x, lengths).tolist() == [[3.0], [-2.0]]


def test_packed_gru_equals_one_sequence_at_a_time():
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 5, batch_first=True)
    seqs = [torch.randn(n, 3) for n in (4, 1, 6, 2)]
    packed, _ = pad_and_pack(seqs)
    _, h_n = gru(packed)
    for i, s in enumerate(seqs):
        _, h_alone = gru(s.unsqueeze(0))
        torch.testing.assert_close(h_n[0, i], h_alone[0, 0])


def test_bucket_batches_cover_each_index_once_and_group_lengths():
    lengths = torch.randint(1, 50, (1000,), generator=torch.Generator().manual_seed(1))
    batches = bucket_batches(lengths, 32, torch.Generator().manual_seed(0), pool=10)
    assert sorted(torch.cat(batches).tolist()) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    spread = sum(int(lengths[b].max() - lengths[b].min()) for b in batches) / len(batches)
    assert spread < 10  # random batches of 32 would spread over ~45
    again = bucket_batches(lengths, 32, torch.Generator().manual_seed(0), pool=10)
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def test_last_rows_of_a_packed_batch():
    # lengths 3, 1, 2 -> sorted 3, 2, 1; batch_sizes [3, 2, 1]; packed rows:
    # step 0: rows 0 1 2 (seqs a c b), step 1: rows 3 4 (a c), step 2: row 5 (a)
    packed, _ = pad_and_pack([torch.tensor([[1.], [2.], [3.]]), torch.tensor([[4.]]),
                              torch.tensor([[5.], [6.]])])
    rows = last_rows(packed.batch_sizes)
    assert rows.tolist() == [5, 4, 2]
    assert packed.data[rows].flatten().tolist() == [3.0, 6.0, 4.0]  # a, c, b: sorted order
