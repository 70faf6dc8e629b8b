"""Surnames of 18 languages: the PyTorch char-RNN classification tutorial's ``data/names``.

18 UTF-8 files ``<Language>.txt``, one surname per line; the file name is the
label; 20,074 names in all. Names are turned into ASCII as the tutorial does
(Unicode NFD, combining marks dropped, then only ASCII letters and `` .,;'`` kept),
which leaves an alphabet of 57 symbols. With ``data.ascii: false`` the letters are kept
as written (NFC): the 27 accented letters of the files become symbols of their own, so
'ß' (German) and 'ł' (Polish) are no longer dropped and 'Müller' is not 'Muller'.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from ..registry import DataFile, DatasetInfo, find_file, register
from ..sequences import LabelledSequences, id_sequences, stratified_split, subset, take

ALPHABET = string.ascii_letters + " .,;'"  # the tutorial's all_letters: 57 symbols
_SOURCE = ("https://github.com/spro/practical-pytorch/raw/"
           "ff2b4c46224c8f887910da343211a2e468eef9ac/data/names/")

# (language, sha256, bytes) of each file, as published (see the datasets MANIFEST).
_FILES = (
    ("Arabic", "6f424a8dbe51cbbbabab7a57d38b617210125e4e3991f3c657cb79b8f104bafc", 13190),
    ("Chinese", "49263ef55a8cb1740e841d65cad8214b2f9b5b869bc534c811746422496fa91e", 1247),
    ("Czech", "145bbbd6d0816578f03388e92c264d39ef1c60df920b081d371fa5c5cc055a8e", 3919),
    ("Dutch", "924f32b635170eae561f84538632138fc07d4c8bbd70ba3fb980de1ecc4d2af3", 2351),
    ("English", "9cca037066d3d5989e24bc01801416162de506b5e28e15b7c092a47905d29bf2", 27125),
    ("French", "81e65b36c60ed5b89a17422f6edcadbb89546f38ad69e960e64e7ba682012a95", 2178),
    ("German", "7449cd590b97a733e18d613a4155decd77ec35dc5f8aadd7a82204dce4f051db", 5610),
    ("Greek", "3555b5186de7f401e6d991b088e9e644ca3099116477818c25ab5793801389e6", 1981),
    ("Irish", "cf8c7013256252a88d2503127b87282a11f21b2ff6db1bded68834c19a1ec058", 1858),
    ("Italian", "f88414c27d0606a11a678b4859277828c2565d6cc4d9ee932deef6e94f3b35e4", 5657),
    ("Japanese", "e0e717e114fec3e7eade4d9dabe0067c475f43147e36a22b47902ee76ad9e67f", 7622),
    ("Korean", "cd54221ccb362a6cba4c78828838cf3268a0e59744767a37cf6ec4b74036b136", 423),
    ("Polish", "45bab898af2f60ed3a728bbf6980e28821011a7caa53227553b5785903a40826", 1165),
    ("Portuguese", "50a8735f41f4f73757c8ce5b16cb0275cd86b2b214bcbc8c9805f508cb131c53", 554),
    ("Russian", "43b3e64ce351f77f1ac9e0cdf7566012d127f4371875fd25208845b5c9d6f7c3", 85605),
    ("Scottish", "78d0252711d87d948ea86fe34826c51d2d794a8e52d15b5d6f7b6244d45d62dd", 752),
    ("Spanish", "1bcb462ed3316756a85781d68232bddae04498fdddd5d9219c53fd1fbdeba7a7", 2284),
    ("Vietnamese", "f3f9e4164ab47601178a6e45b216464a64122f49d05541f24bf18a757253281d", 339),)
FILES = tuple(DataFile(path=f"names/{lang}.txt", url=f"{_SOURCE}{lang}.txt", sha256=digest,
                       size=size) for lang, digest, size in _FILES)
LANGUAGES = tuple(lang for lang, _, _ in _FILES)


def unicode_to_ascii(text: str) -> str:
    """'Ślusàrski' -> 'Slusarski': NFD, drop combining marks (Mn), keep ALPHABET only."""
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) != "Mn" and c in ALPHABET)


def keep_letters(text: str) -> str:
    """'Straße ' -> 'Straße': NFC, letters of any script and `` .,;'`` kept, nothing folded."""
    return "".join(c for c in unicodedata.normalize("NFC", text)
                   if c.isalpha() or c in ALPHABET)


@dataclass
class LabelledTexts:
    """Texts with integer labels and the label names (index = label)."""

    texts: list[str]
    labels: np.ndarray
    classes: list[str]


def load(data_dir: str | Path | None = None, download: bool = False, ascii: bool = True
         ) -> LabelledTexts:
    """All 20,074 surnames, ASCII-folded (or as written: ``ascii=False``), labelled by
    language (alphabetical order)."""
    clean = unicode_to_ascii if ascii else keep_letters
    texts, labels = [], []
    for k, file in enumerate(FILES):
        path = find_file(INFO.name, file, data_dir, download)
        lines = path.read_text(encoding="utf-8").splitlines()
        names = [clean(line.strip()) for line in lines if line.strip()]
        if not names or any(not n for n in names):
            raise DataError(f"{path}: expected one surname per line in Latin script")
        texts += names
        labels += [k] * len(names)
    return LabelledTexts(texts, np.asarray(labels, dtype=np.int64), list(LANGUAGES))


def sequences(d, seed: int, split_seed: int, data_dir=None, download: bool = False
              ) -> LabelledSequences:
    """Surnames as letter ids, cut to ``d.max_length``; ``d.limit`` of them (seeded by
    ``split_seed``), split ``d.split`` stratified by language."""
    data = load(data_dir, download, d.ascii)
    keep = subset(len(data.texts), d.limit, split_seed)
    texts = [data.texts[i][:d.max_length] for i in keep]
    labels = data.labels[keep]
    # from all the files, not the subset: the same letters get the same ids in every run
    alphabet = ALPHABET + "".join(sorted(set("".join(data.texts)) - set(ALPHABET)))
    lookup = {c: i for i, c in enumerate(alphabet)}
    flat = np.array([lookup[c] for c in "".join(texts)], dtype=np.int64)
    seqs = id_sequences(flat, [len(t) for t in texts])
    parts = stratified_split(labels, d.split, split_seed)
    clean = unicode_to_ascii if d.ascii else keep_letters

    def encode(new: list[str]) -> list[list[int]]:
        out = []
        for text in new:
            # a letter the files never have is folded as the tutorial does ('å' -> 'a')
            letters = "".join(c if c in lookup else unicode_to_ascii(c)
                              for c in clean(text.strip()))[:d.max_length]
            if not letters:
                raise ConfigError(f"{text!r} has no letters of the names alphabet "
                                  "(a-z, A-Z, space and .,;')")
            out.append([lookup[c] for c in letters])
        return out
    return LabelledSequences({k: take(seqs, labels, idx) for k, idx in parts.items()},
                             list(data.classes), list(alphabet), encode)


INFO = register(DatasetInfo(
    name="names",
    task="classify",
    description="20,074 surnames of 18 languages (PyTorch char-RNN tutorial); bundled",
    files=FILES,
    bundled=True,
    load=load,
    sequences=sequences,
))
