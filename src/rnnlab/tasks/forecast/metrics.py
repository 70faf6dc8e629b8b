"""Forecast errors in the data's units: RMSE, MAE, and MAPE as the lab defines it."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute percentage error over targets > 0, in percent (the lab's definition)."""
    keep = y_true > 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs((y_true[keep] - y_pred[keep]) / y_true[keep])) * 100)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and MAPE of two arrays of the same shape, in their units."""
    t, p = y_true.reshape(-1), y_pred.reshape(-1)
    return {"rmse": math.sqrt(mean_squared_error(t, p)), "mae": mean_absolute_error(t, p),
            "mape": mape(t, p)}


def horizon_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Metrics averaged over all horizons, plus ``rmse@k`` etc. per step when horizon > 1."""
    out = regression_metrics(y_true, y_pred)
    if y_true.shape[1] > 1:
        for k in range(y_true.shape[1]):
            for name, value in regression_metrics(y_true[:, k], y_pred[:, k]).items():
                out[f"{name}@{k + 1}"] = value
    return out

