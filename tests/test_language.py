"""Character language modelling: text cleaning, vocabulary, LM batching, perplexity, generation."""

import json
import math

import pytest
import torch
from torch.nn import functional as F

from rnnlab import config
from rnnlab.data import registry
from rnnlab.data.sources import timemachine
from rnnlab.data.text import UNK, Vocab, preprocess, random_batches, sequential_batches, streams
from rnnlab.errors import ConfigError, DataError
from rnnlab.tasks.language import LanguageTask, generate, mean_nll, unigram_nll

TOY_TEXT = ("The Time Traveller (for so it will be convenient to speak of him)\n"
            "was expounding a recondite matter to us. His grey eyes shone and\n"
            "twinkled, and his usually pale face was flushed and animated.\n") * 6

registry.register(registry.DatasetInfo("toy_text", "language", "a few lines of text", (),
                                       load=lambda data_dir=None, download=False: TOY_TEXT))


def toy_config(**data):
    return config.from_dict({
        "name": "toy", "task": "language", "seed": 3,
        "data": {"dataset": "toy_text", "num_steps": 5, "val_fraction": 0.2, **data},
        "model": {"kind": "lstm", "hidden_size": 12},
        "train": {"epochs": 1, "batch_size": 4, "lr": 1.0, "optimizer": "sgd", "clip": 1.0}})


# ---------------------------------------------------------------- cleaning and vocabulary

def test_preprocess_is_d2l_cleaning():
    text = "The Time-Machine,\n by H. G. Wells [1898]\n\nI\n"
    assert preprocess(text) == "the time machineby h g wellsi"  # d2l: lines stripped, joined
    assert preprocess(text, "space") == "the time machine by h g wells i "


def test_real_text_gives_d2l_corpus_and_vocab(real_data):
    text = preprocess(timemachine.load(real_data))
    vocab = Vocab(text)
    assert len(text) == 170580 and len(vocab) == 28  # d2l's load_corpus_time_machine()
    assert vocab.idx_to_token[:3] == [UNK, " ", "e"]  # by frequency


def test_bundled_copy_is_the_published_file(tmp_path):
    path = registry.BUNDLED_ROOT / timemachine.TEXT.path
    assert registry.sha256(path) == timemachine.TEXT.sha256
    registry.verify(path, timemachine.TEXT, "timemachine")  # accepted as it is
    altered = tmp_path / "timemachine.txt"  # one letter changed, same size
    altered.write_bytes(path.read_bytes().replace(b"Time", b"Tine", 1))
    with pytest.raises(DataError, match="altered or corrupt"):
        registry.verify(altered, timemachine.TEXT, "timemachine")


def test_vocab_orders_by_frequency_and_maps_unknowns_to_unk():
    vocab = Vocab("abracadabra", reserved=["<pad>"])
    assert vocab.idx_to_token == [UNK, "<pad>", "a", "b", "r", "c", "d"]
    assert vocab.encode("dax").tolist() == [6, 2, 0]
    assert "".join(vocab.decode([2, 3, 4])) == "abr"
    assert vocab.unknown("xaxyb") == ["x", "y"]
    assert Vocab("aab", min_freq=2).idx_to_token == [UNK, "a"]


def test_vocab_round_trips_through_json():
    vocab = Vocab(["the", "time", "the", "machine"])  # word tokens work the same way
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.idx_to_token == vocab.idx_to_token
    assert again.token_to_idx == vocab.token_to_idx and again.counts == vocab.counts
    with pytest.raises(DataError, match="not a saved rnnlab vocabulary"):
        Vocab.from_dict({"tokens": ["a", "b"]})


# ---------------------------------------------------------------- batching, checked by hand

def test_sequential_batches_by_hand():
    x, y = sequential_batches(torch.arange(20), batch_size=2, num_steps=3, offset=0)
    # two streams: 0..8 and 9..17; batch k holds steps 3k..3k+2 of each
    assert x.tolist() == [[[0, 1, 2], [9, 10, 11]], [[3, 4, 5], [12, 13, 14]],
                          [[6, 7, 8], [15, 16, 17]]]
    assert y.tolist() == [[[1, 2, 3], [10, 11, 12]], [[4, 5, 6], [13, 14, 15]],
                          [[7, 8, 9], [16, 17, 18]]]
    x, y = sequential_batches(torch.arange(20), batch_size=2, num_steps=3, offset=2)
    assert x.tolist() == [[[2, 3, 4], [10, 11, 12]], [[5, 6, 7], [13, 14, 15]]]
    assert y[-1].tolist() == [[6, 7, 8], [14, 15, 16]]


def test_random_batches_by_hand():
    x, y = random_batches(torch.arange(20), batch_size=2, num_steps=3,
                          generator=torch.Generator().manual_seed(0), offset=1)
    # from offset 1: six chunks 1-3, 4-6, ..., 16-18, each once, in a shuffled order
    assert x.shape == (3, 2, 3)
    chunks = sorted(x.reshape(-1, 3).tolist())
    assert chunks == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13, 14, 15], [16, 17, 18]]
    assert torch.equal(y, x + 1)
    assert x.reshape(-1, 3)[:, 0].tolist() != [1, 4, 7, 10, 13, 16]  # shuffled


def test_samplers_are_reproducible_and_draw_every_offset():
    corpus = torch.arange(100)
    for sample, offsets in ((random_batches, range(4)), (sequential_batches, range(5))):
        a = sample(corpus, 3, 4, torch.Generator().manual_seed(7))
        b = sample(corpus, 3, 4, torch.Generator().manual_seed(7))
        assert all(torch.equal(u, v) for u, v in zip(a, b))
        seen = {int(sample(corpus, 3, 4, torch.Generator().manual_seed(s))[0].min())
                for s in range(60)}
        assert seen == set(offsets)


def test_text_too_short_for_a_batch_is_a_config_error():
    with pytest.raises(ConfigError, match="train.batch_size"):
        sequential_batches(torch.arange(10), batch_size=4, num_steps=3)


def test_streams_score_each_token_once():
    x, y = streams(torch.arange(11), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert torch.equal(y, x + 1)


# ---------------------------------------------------------------- the task

def _fresh_loss(model, x, y, state=None):
    logits, state = model(x, state)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), state


def test_sequential_training_carries_the_detached_state_across_batches():
    task = LanguageTask(toy_config(sampler="sequential"))
    torch.manual_seed(0)
    model = task.build_model()
    batches = list(task.train_batches(1))
    assert len(batches) == task.num_train_batches() >= 3
    # reading the streams in one pass = reading them batch after batch with the state carried
    x_all = torch.cat([b[0] for b in batches[:3]], dim=1)
    y_all = torch.cat([b[1] for b in batches[:3]], dim=1)
    logits, _ = model(x_all)
    gen = task.train_batches(1)
    for k in range(3):
        loss, n = task.train_step(model, next(gen))
        part = logits[:, 5 * k:5 * (k + 1)]
        expect = F.cross_entropy(part.reshape(-1, part.shape[-1]), y_all[:, 5 * k:5 * (k + 1)]
                                 .reshape(-1))
        assert torch.allclose(loss, expect, atol=1e-6) and n == 4 * 5
        assert all(not s.requires_grad for s in task._state)  # truncated BPTT
    loss.backward()  # only through the last batch: the carried state is detached
    # a new epoch starts from a zero state
    first = next(task.train_batches(2))
    loss, _ = task.train_step(model, first)
    assert torch.allclose(loss, _fresh_loss(model, *first)[0])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_three_implementations_train_alike_with_the_state_carried(kind):
    losses = []
    for impl in ("scratch", "torch", "teaching"):
        cfg = toy_config(input="embedding")
        cfg.model.kind, cfg.model.impl = kind, impl
        task = LanguageTask(cfg)
        torch.manual_seed(0)
        model = task.build_model()
        gen = task.train_batches(1)
        losses.append([task.train_step(model, next(gen))[0].item() for _ in range(3)])
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    assert losses[0] == pytest.approx(losses[2], abs=1e-5)


def test_random_sampling_uses_a_fresh_state_per_batch():
    task = LanguageTask(toy_config(sampler="random"))
    model = task.build_model()
    gen = task.train_batches(1)
    for _ in range(3):
        batch = next(gen)
        loss, _ = task.train_step(model, batch)
        assert torch.allclose(loss, _fresh_loss(model, *batch)[0])


def test_uniform_model_has_perplexity_equal_to_the_vocabulary_size():
    task = LanguageTask(toy_config())
    model = task.build_model()
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.zero_()  # every token equally likely whatever the input
    ppl = task.evaluate(model, "val")["perplexity"]
    assert ppl == pytest.approx(len(task.vocab), rel=1e-6)
    assert task.baselines()["uniform"]["perplexity"] == pytest.approx(len(task.vocab))


def test_unigram_baseline_by_hand():
    # counts 1, 2 (+1 each) -> p = 2/5, 3/5; held-out [1, 1, 0]
    nll = unigram_nll(torch.tensor([0, 1, 1]), torch.tensor([1, 1, 0]), 2)
    assert nll == pytest.approx(-(2 * math.log(0.6) + math.log(0.4)) / 3)


def test_mean_nll_matches_cross_entropy_of_one_pass():
    task = LanguageTask(toy_config())
    model = task.build_model()
    tokens = task.tokens["val"]
    loss, n = mean_nll(model, tokens, rows=1, num_steps=7)
    logits, _ = model(tokens[:-1].view(1, -1))
    assert n == len(tokens) - 1
    assert loss == pytest.approx(F.cross_entropy(logits[0], tokens[1:]).item(), rel=1e-5)


def test_generation_is_deterministic_greedy_and_seeded():
    task = LanguageTask(toy_config())
    model = task.build_model()
    greedy = generate(model, task.vocab, "time ", 40)
    assert greedy == generate(model, task.vocab, "time ", 40) and greedy.startswith("time ")
    assert len(greedy) == 45 and UNK not in greedy
    # a temperature near 0 puts all the probability on the most likely token
    assert generate(model, task.vocab, "time ", 40, 1e-4, torch.Generator().manual_seed(1)) \
        == greedy
    draw = [generate(model, task.vocab, "time ", 40, 1.5, torch.Generator().manual_seed(s))
            for s in (5, 5, 6)]
    assert draw[0] == draw[1] != draw[2]


def test_generation_refuses_characters_outside_the_vocabulary():
    task = LanguageTask(toy_config())
    with pytest.raises(ConfigError, match="'T', '9'.*lowercased"):
        generate(task.build_model(), task.vocab, "Time 9", 5)


def test_bidirectional_language_model_is_refused():
    with pytest.raises(ConfigError, match="bidirectional"):
        config.from_dict({"name": "x", "task": "language", "model": {"bidirectional": True}})


# ---------------------------------------------------------------- the real CLI on the real text

@pytest.mark.realdata
@pytest.mark.slow
def test_quick_run_beats_unigram_then_generates(cli, repo_root, real_data):
    env = {"RNNLAB_DATA": str(real_data), "RNNLAB_NO_BUNDLED": "1"}
    proc = cli("run", repo_root / "configs" / "timemachine.yaml", "--quick", "--set",
               "train.epochs=1", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    run_dir = next((cli.cwd / "runs").glob("timemachine-*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    held_out = summary["test"]["perplexity"]
    assert held_out < summary["baselines"]["unigram"]["perplexity"] < 28
    assert summary["baselines"]["uniform"]["perplexity"] == pytest.approx(28)
    assert summary["data"]["vocab_size"] == 28 and len(summary["samples"]) == 10
    for name in ("vocab.json", "samples.txt", "perplexity.png", "loss.png", "best.pt"):
        assert (run_dir / name).is_file()
    assert "the time traveller tells the narrator" in (run_dir / "samples.txt").read_text()

    out = cli("generate", run_dir, "--prefix", "time traveller", "--length", "30")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("time traveller") and len(out.stdout.strip("\n")) == 44
    assert summary["samples"]["time traveller"].startswith(out.stdout.strip("\n"))
    seeded = [cli("generate", run_dir.name, "--temperature", "0.8", "--seed", "4").stdout
              for _ in range(2)]
    assert seeded[0] == seeded[1]
    bad = cli("generate", run_dir, "--prefix", "Time!")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "'T'" in bad.stderr


def test_max_train_tokens_keeps_the_first_characters_vocabulary_and_held_out_text():
    full, cut = LanguageTask(toy_config()), LanguageTask(toy_config(max_train_tokens=100))
    assert len(cut.tokens["train"]) == 100
    assert torch.equal(cut.tokens["train"], full.tokens["train"][:100])
    assert torch.equal(cut.tokens["val"], full.tokens["val"])
    assert cut.vocab.to_dict() == full.vocab.to_dict()
    with pytest.raises(ConfigError, match="data.max_train_tokens"):
        toy_config(max_train_tokens=0)
