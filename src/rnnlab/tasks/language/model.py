"""The character (or word) language model: a recurrent layer between an input encoding and a
linear decoder; scoring text (mean cross-entropy) and generating it."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ...config import RunConfig
from ...data.text import Vocab, streams, to_tokens
from ...errors import ConfigError
from ..base import recurrent_layer


class LanguageNet(nn.Module):
    """Tokens (batch, steps) -> logits over the vocabulary (batch, steps, vocab) and the state."""

    def __init__(self, rnn_layer: nn.Module, vocab_size: int, embedding: int | None = None):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embedding) if embedding else None
        self.rnn = rnn_layer
        self.decoder = nn.Linear(rnn_layer.hidden_size, vocab_size)

    def forward(self, tokens: Tensor, state=None):
        if self.embed is not None:
            x = self.embed(tokens)
        else:
            x = F.one_hot(tokens, self.vocab_size).to(self.decoder.weight.dtype)
        out, state = self.rnn(x, state)
        return self.decoder(out), state


def make_model(cfg: RunConfig, vocab_size: int) -> LanguageNet:
    """The network a language config describes, for a vocabulary of ``vocab_size`` tokens."""
    d = cfg.data
    embedding = d.embed_dim if d.input == "embedding" else None
    layer = recurrent_layer(cfg.model, embedding or vocab_size)
    return LanguageNet(layer, vocab_size, embedding)


def detach(state):
    """The state cut from the graph of the batch that produced it (truncated BPTT)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
def mean_nll(model: nn.Module, tokens: Tensor, rows: int, num_steps: int,
             device: torch.device | str = "cpu") -> tuple[float, int]:
    """Mean per-token cross-entropy (nats) of ``model`` on ``tokens`` and how many it scored.

    The text is read as ``rows`` contiguous streams, ``num_steps`` at a time,
    carrying the state, so each token is predicted from everything before it in
    its stream.
    """
    model.eval()
    x, y = streams(tokens, rows)
    x, y = x.to(device), y.to(device)
    state, total = None, 0.0
    for a in range(0, x.shape[1], num_steps):
        logits, state = model(x[:, a:a + num_steps], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                 y[:, a:a + num_steps].reshape(-1), reduction="sum").item()
    return total / y.numel(), y.numel()


def perplexity_figures(mean_loss: float) -> dict[str, float]:
    return {"loss": mean_loss, "perplexity": math.exp(mean_loss)}


def unigram_nll(train: Tensor, held_out: Tensor, vocab_size: int) -> float:
    """Mean cross-entropy on ``held_out`` of token frequencies counted on ``train`` (add-one)."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1
    log_p = torch.log(counts / counts.sum())
    return float(-log_p[held_out].mean())


@torch.no_grad()
def generate(model: LanguageNet, vocab: Vocab, prefix: str, length: int,
             temperature: float = 0.0, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu", sep: str = "") -> str:
    """``prefix`` and ``length`` tokens continuing it: the most likely token at each step
    when ``temperature`` is 0, else a draw from softmax(logits / temperature).

    ``prefix`` is a sequence of tokens (a string = characters); ``<unk>`` is never produced.
    """
    if len(prefix) == 0:
        raise ConfigError("the prefix is empty: give at least one token, e.g. --prefix "
                          "'time traveller'")
    if temperature < 0:
        raise ConfigError(f"--temperature must be >= 0 (0 = greedy), got {temperature}")
    missing = vocab.unknown(prefix)
    if missing:
        known = "".join(t for t in vocab.idx_to_token[1:] if len(t) == 1)
        raise ConfigError(
            f"the prefix holds {', '.join(repr(t) for t in missing)}, not in the model's "
            f"vocabulary ({len(vocab)} tokens: {known!r} and <unk>). The training text was "
            f"lowercased with every non-letter turned into a space; write the prefix that way.")
    model.eval()
    logits, state = model(vocab.encode(prefix).view(1, -1).to(device))
    out: list[int] = []
    for _ in range(length):
        last = logits[0, -1].double().cpu()
        if len(vocab) > 1:
            last[vocab.unk] = -math.inf
        if temperature == 0:
            token = int(last.argmax())
        else:
            probs = torch.softmax(last / temperature, dim=0)
            token = int(torch.multinomial(probs, 1, generator=generator))
        out.append(token)
        logits, state = model(torch.tensor([[token]], device=device), state)
    return sep.join([*prefix, *vocab.decode(out)])


def generate_text(model: LanguageNet, vocab: Vocab, cfg: RunConfig, prefix: str, length: int,
                  temperature: float = 0.0, generator: torch.Generator | None = None) -> str:
    """:func:`generate` from a prefix written as text: split into words for a word-level run."""
    word = getattr(cfg.data, "level", "char") == "word"
    return generate(model, vocab, to_tokens(prefix, "word") if word else prefix, length,
                    temperature, generator, sep=" " if word else "")

