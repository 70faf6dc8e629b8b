"""Figures and reports of runs."""

import sys

import matplotlib

if "ipykernel" not in sys.modules:  # in Jupyter keep the inline backend: notebooks show plots
    matplotlib.use("Agg")  # files only; never needs a display
