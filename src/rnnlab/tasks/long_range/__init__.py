"""Long-range memory problems (adding, copy): MSE or recall, solved or not, gradient flow."""

from ..base import register
from .config import LongRangeData
from .model import MemoryNet
from .task import LongRangeTask

register(LongRangeTask)

__all__ = ["LongRangeData", "LongRangeTask", "MemoryNet"]
