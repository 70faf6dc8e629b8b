"""rnnlab: learn, run and compare recurrent networks (RNN, LSTM, GRU) on real sequence data."""

__version__ = "0.1.0"
