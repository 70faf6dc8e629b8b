"""Dataset look-up order, checksum verification and downloads (offline, via file:// URLs)."""

import hashlib
import shutil

import pytest

from rnnlab.data import registry
from rnnlab.data.registry import DataFile, DatasetInfo
from rnnlab.data.sources import los_loop
from rnnlab.errors import ConfigError, DataError

BUNDLED = registry.BUNDLED_ROOT / los_loop.SPEED.path


def test_bundled_copy_matches_the_manifest():
    assert registry.sha256(BUNDLED) == los_loop.SPEED.sha256


def test_missing_file_says_where_it_looked_and_how_to_get_it(isolated):
    with pytest.raises(DataError) as err:
        registry.locate("los_loop", data_dir=isolated / "nowhere")
    text = str(err.value)
    for part in ("--data-dir", "$RNNLAB_DATA (not set)", "user cache", los_loop.SPEED.url,
                 "rnnlab download los_loop"):
        assert part in text


def test_data_dir_comes_before_rnnlab_data(isolated, monkeypatch):
    for root in ("mine", "shared"):
        (isolated / root / "los_loop").mkdir(parents=True)
        shutil.copy(BUNDLED, isolated / root / los_loop.SPEED.path)
    monkeypatch.setenv("RNNLAB_DATA", str(isolated / "shared"))
    assert registry.locate("los_loop", data_dir=isolated / "mine")[los_loop.SPEED.path] == \
        isolated / "mine" / los_loop.SPEED.path
    assert registry.locate("los_loop")[los_loop.SPEED.path] == \
        isolated / "shared" / los_loop.SPEED.path


def test_truncated_and_altered_files_are_refused(isolated):
    folder = isolated / "d" / "los_loop"
    folder.mkdir(parents=True)
    data = BUNDLED.read_bytes()
    (folder / "los_speed.csv").write_bytes(data[:-100])
    with pytest.raises(DataError, match="truncated or altered"):
        registry.locate("los_loop", data_dir=isolated / "d")
    (folder / "los_speed.csv").write_bytes(data[:-1] + b"7")  # same size, one byte changed
    with pytest.raises(DataError, match="sha256"):
        registry.locate("los_loop", data_dir=isolated / "d")


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(ConfigError, match="Did you mean 'los_loop'"):
        registry.get("los_lop")


def test_download_verifies_then_keeps(isolated):
    source = isolated / "published.txt"
    source.write_bytes(b"hello rnnlab\n" * 100)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    good = DataFile("toy_dl/published.txt", source.as_uri(), digest, source.stat().st_size)
    registry.register(DatasetInfo("toy_dl", "forecast", "test", (good,)))
    with pytest.raises(DataError, match="not found"):
        registry.locate("toy_dl")
    path = registry.locate("toy_dl", download=True)["toy_dl/published.txt"]
    assert path == isolated / "cache" / "toy_dl" / "published.txt"
    assert path.read_bytes() == source.read_bytes()

    bad = DataFile("toy_bad/published.txt", source.as_uri(), "0" * 64)
    registry.register(DatasetInfo("toy_bad", "forecast", "test", (bad,)))
    with pytest.raises(DataError, match="does not match the published checksum"):
        registry.locate("toy_bad", download=True)
    assert not (isolated / "cache" / "toy_bad").exists() or not any(
        (isolated / "cache" / "toy_bad").iterdir())


def test_download_failure_is_a_clear_error(isolated):
    missing = DataFile("toy_gone/x.txt", (isolated / "absent.txt").as_uri())
    registry.register(DatasetInfo("toy_gone", "forecast", "test", (missing,)))
    with pytest.raises(DataError, match="could not download"):
        registry.locate("toy_gone", download=True)
