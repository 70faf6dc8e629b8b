"""Scalers fitted on the training split only, with an exact inverse.

Statistics are per column: every axis but time (axis 0) keeps its own minimum
and maximum (or mean and deviation), so each sensor and feature is scaled on
its own. Metrics and plots are computed after ``inverse_transform``, in the
data's original units.
"""

from __future__ import annotations

import numpy as np

SCALERS = ("minmax", "standard", "none")


class Scaler:
    """Base: ``fit`` on training data, then ``transform`` / ``inverse_transform`` anything."""

    name = "none"

    def fit(self, train: np.ndarray) -> Scaler:
        train = np.asarray(train, dtype=np.float64)
        self.shift = np.zeros(train.shape[1:])
        self.scale = np.ones(train.shape[1:])
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) - self.shift) / self.scale

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x) * self.scale + self.shift

    def state_dict(self) -> dict:
        """Everything needed to rebuild the fitted scaler (stored with each run)."""
        return {"name": self.name, "shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state(cls, state: dict) -> Scaler:
        scaler = make_scaler(state["name"])
        scaler.shift = np.asarray(state["shift"], dtype=np.float64)
        scaler.scale = np.asarray(state["scale"], dtype=np.float64)
        return scaler


class MinMaxScaler(Scaler):
    """x -> (x - min) / (max - min), into [0, 1] on the training data."""

    name = "minmax"

    def fit(self, train):
        train = np.asarray(train, dtype=np.float64)
        lo, hi = np.nanmin(train, axis=0), np.nanmax(train, axis=0)
        self.shift = lo
        # A constant column would divide by zero; leave it shifted but unscaled.
        self.scale = np.where(hi > lo, hi - lo, 1.0)
        return self


class StandardScaler(Scaler):
    """x -> (x - mean) / std, with the training data's mean and standard deviation."""

    name = "standard"

    def fit(self, train):
        train = np.asarray(train, dtype=np.float64)
        self.shift = np.nanmean(train, axis=0)
        std = np.nanstd(train, axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        return self


def make_scaler(name: str) -> Scaler:
    """A fresh scaler by name: ``minmax``, ``standard`` or ``none``."""
    classes = {"minmax": MinMaxScaler, "standard": StandardScaler, "none": Scaler}
    if name not in classes:
        raise ValueError(f"unknown scaler {name!r}; choose one of {', '.join(SCALERS)}")
    return classes[name]()
