"""Next-token language modelling (d2l's character LM on The Time Machine): perplexity, generation."""

from ..base import register
from .config import PREFIXES, LanguageData, LanguageModelConfig
from .model import LanguageNet, generate, generate_text, make_model, mean_nll, unigram_nll
from .task import LanguageTask

register(LanguageTask)

__all__ = ["PREFIXES", "LanguageData", "LanguageModelConfig", "LanguageNet", "LanguageTask",
           "generate", "generate_text", "make_model", "mean_nll", "unigram_nll"]
