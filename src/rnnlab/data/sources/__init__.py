"""One module per dataset, plus readers for a user's own files; importing this package
registers every dataset.

Each dataset module describes its files in a :class:`~rnnlab.data.registry.DatasetInfo`
and registers it with its ``load(data_dir=None, download=False)`` function (and, for
classification, ``sequences``). The functions below give a config's ``data:`` section
its data, from the registry or from the file at ``data.path`` as ``data.source`` says.
"""

from __future__ import annotations

from ...errors import ConfigError
from ..registry import get
from . import (beijing_multisite, beijing_pm25, checkins, jena, krakow,  # noqa: F401
               los_loop, names, pems, reviews, synthetic, timemachine)
from . import arrays, tables, texts


def loader(name: str):
    """The ``load`` function of dataset ``name`` (a ConfigError for unknown names)."""
    return get(name).load


def series_for(d, data_dir=None, download: bool = False):
    """The long series a forecasting ``data:`` section names: a registered dataset, or the
    user's table (``source: csv``) or array (``source: npz``)."""
    if d.source == "csv":
        return tables.table_series(d.path, time_column=d.time_column, columns=d.columns,
                                   id_column=d.id_column, timezone=d.timezone,
                                   time_format=d.time_format, resample=d.resample)
    if d.source == "npz":
        return arrays.array_series(d.path, d.key)
    return loader(d.dataset)(data_dir, download)


def corpus_for(d, data_dir=None, download: bool = False) -> str:
    """The raw text a language ``data:`` section names: a registered text or the user's file."""
    raw = texts.read_text(d.path, d.encoding) if d.source == "text" else \
        loader(d.dataset)(data_dir, download)
    if not isinstance(raw, str):
        raise ConfigError(f"dataset {d.dataset!r} is not a text; the language task needs "
                          f"one, e.g. data.dataset=timemachine")
    return raw


def sequences_for(d, seed: int, split_seed: int, embedding: str, data_dir=None,
                  download: bool = False):
    """The labelled sequences a classification ``data:`` section names, split and encoded."""
    if d.source == "labelled_csv":
        return texts.labelled_sequences(d, seed, split_seed, embedding)
    return get(d.dataset).sequences(d, seed, split_seed, data_dir, download)
