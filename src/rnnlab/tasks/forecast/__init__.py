"""Forecasting: a window of a multivariate series in, the next steps out (RMSE, MAE, MAPE)."""

from ..base import register
from .config import ForecastData, ForecastModel
from .metrics import horizon_metrics, mape, regression_metrics
from .model import ForecastNet
from .task import ForecastTask

register(ForecastTask)

__all__ = ["ForecastData", "ForecastModel", "ForecastNet", "ForecastTask", "horizon_metrics",
           "mape", "regression_metrics"]
