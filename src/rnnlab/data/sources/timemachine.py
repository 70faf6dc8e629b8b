"""The Time Machine by H. G. Wells (Project Gutenberg), d2l's character-level corpus.

d2l's ``timemachine.txt``: 3,221 lines of ASCII text, 178,979 bytes. The loader
returns the raw text; cleaning and tokenising are the language task's job
(:func:`rnnlab.data.text.preprocess`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register

TEXT = DataFile(
    path="timemachine/timemachine.txt",
    url="http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
    sha256="8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516",
    size=178979,
)


def load(data_dir: str | Path | None = None, download: bool = False) -> str:
    """The whole book as one string."""
    path = find_file(INFO.name, TEXT, data_dir, download)
    try:
        return path.read_text(encoding="ascii")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: expected plain ASCII text ({err})") from None


INFO = register(DatasetInfo(
    name="timemachine",
    task="language",
    description="The Time Machine (H. G. Wells), 178,979 characters of English, d2l's corpus",
    files=(TEXT,),
    bundled=True,
    load=load,
))
