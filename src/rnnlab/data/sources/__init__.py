"""One module per dataset; importing this package registers them all.

Each module describes its files in a :class:`~rnnlab.data.registry.DatasetInfo`
and registers it with its ``load(data_dir=None, download=False)`` function.
"""

from . import (beijing_multisite, beijing_pm25, checkins, jena, krakow,  # noqa: F401
               los_loop, names, pems, reviews, timemachine)


def loader(name: str):
    """The ``load`` function of dataset ``name`` (a ConfigError for unknown names)."""
    from ..registry import get

    return get(name).load
