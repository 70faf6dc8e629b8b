"""Sequence classification: a sequence in, one label out (accuracy, per-class P/R/F1)."""

from ..base import register
from .config import ClassifyData, ClassifyModel
from .models import SequenceClassifier, TokenEncoder, TutorialRNN
from .task import ClassifyTask

register(ClassifyTask)

__all__ = ["ClassifyData", "ClassifyModel", "ClassifyTask", "SequenceClassifier",
           "TokenEncoder", "TutorialRNN"]
