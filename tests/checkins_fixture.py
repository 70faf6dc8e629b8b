"""Writes a small FourSquare TSMC2014 zip in exactly the published format.

The real ``dataset_tsmc2014.zip`` (tens of MB) cannot be downloaded here, so the
loader is tested on this: the same member path, tab-separated, no header,
latin-1 text (category names such as "Café" are one byte per letter), 8 columns,
times like ``Tue Apr 03 18:00:09 +0000 2012``, rows in time order across users.
Each user follows a daily routine with some noise, so the next category can be learnt.
"""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

# (category id, category name) — real Foursquare category ids and names.
CATEGORIES = [
    ("4bf58dd8d48988d103941735", "Home (private)"),
    ("4bf58dd8d48988d1fd931735", "Subway"),
    ("4bf58dd8d48988d124941735", "Office"),
    ("4bf58dd8d48988d16d941735", "Café"),
    ("4bf58dd8d48988d176941735", "Gym / Fitness Center"),
    ("4bf58dd8d48988d116941735", "Bar"),
    ("4bf58dd8d48988d1c4941735", "Restaurant"),
    ("4bf58dd8d48988d118951735", "Grocery Store"),
]
ROUTINES = [  # (local hour, category index) of a typical day
    [(7, 0), (8, 1), (9, 2), (12, 3), (13, 2), (18, 4), (20, 0)],
    [(8, 0), (9, 1), (10, 2), (13, 6), (17, 1), (19, 5), (23, 0)],
    [(9, 0), (11, 3), (14, 7), (16, 0), (19, 6), (22, 5)],
]


def checkin_rows(users: int = 30, days: int = 20, seed: int = 0, offset_min: int = -240):
    """The rows as tuples of the 8 columns, sorted by UTC time."""
    rng = np.random.default_rng(seed)
    start = datetime(2012, 4, 3, tzinfo=timezone.utc)
    rows = []
    for user in range(1, users + 1):
        routine = ROUTINES[user % len(ROUTINES)]
        venues = {c: f"{user:04x}{c:02x}" + "a" * 18 for c in range(len(CATEGORIES))}
        for day in range(days):
            for hour, cat in routine:
                if rng.random() < 0.1:
                    continue  # a skipped check-in
                if rng.random() < 0.1:
                    cat = int(rng.integers(len(CATEGORIES)))  # an unusual venue
                local = start + timedelta(days=day, hours=hour, minutes=int(rng.integers(60)),
                                          seconds=int(rng.integers(60)))
                utc = local - timedelta(minutes=offset_min)
                cid, name = CATEGORIES[cat]
                lat, lon = 40.7 + rng.normal(0, 0.05), -74.0 + rng.normal(0, 0.05)
                rows.append((utc, user, venues[cat], cid, name, f"{lat:.6f}", f"{lon:.6f}",
                             offset_min))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(u, v, cid, name, lat, lon, off, utc.strftime("%a %b %d %H:%M:%S +0000 %Y"))
            for utc, u, v, cid, name, lat, lon, off in rows]


def write_tsmc2014_zip(folder: Path, users: int = 30, days: int = 20, seed: int = 0) -> Path:
    """``folder/foursquare/dataset_tsmc2014.zip`` with an NYC file (and a tiny TKY one)."""
    target = Path(folder) / "foursquare" / "dataset_tsmc2014.zip"
    target.parent.mkdir(parents=True, exist_ok=True)

    def text(rows) -> bytes:
        return "".join("\t".join(map(str, r)) + "\r\n" for r in rows).encode("latin-1")

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("dataset_tsmc2014/dataset_TSMC2014_NYC.txt",
                   text(checkin_rows(users, days, seed)))
        z.writestr("dataset_tsmc2014/dataset_TSMC2014_TKY.txt",
                   text(checkin_rows(3, 2, seed + 1, offset_min=540)))
        z.writestr("dataset_tsmc2014/dataset_TSMC2014_readme.txt", b"TSMC2014 fixture\r\n")
    return target
