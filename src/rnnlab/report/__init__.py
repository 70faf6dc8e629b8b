"""Reports over runs and sweeps: comparison tables, overlaid curves, text and HTML."""

from .. import figures  # noqa: F401  (chooses the file-only matplotlib backend first)
