"""A user's own files as data (issue 10): CSV/Parquet time series, .npz/.npy arrays,
labelled CSV texts and plain-text corpora, written small in tmp_path with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import rnnlab
from rnnlab import config
from rnnlab.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """jieba tokens and word2vec vectors go to a cache inside the test folder."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))


def forecast_cfg(data: dict, **top):
    raw = {"task": "forecast", "data": data, "model": {"kind": "gru", "hidden_size": 8},
           "train": {"epochs": 1, "batch_size": 32}, **top}
    return config.from_dict(raw)


def forecast_task(data: dict):
    from rnnlab.tasks.forecast import ForecastTask

    return ForecastTask(forecast_cfg(data))


def hourly_frame(hours: int = 120, start: str = "2024-03-01") -> pd.DataFrame:
    t = pd.date_range(start, periods=hours, freq="h")
    load = 50 + 10 * np.sin(2 * np.pi * t.hour / 24) + np.arange(hours) * 0.01
    return pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M"), "load": load.round(3),
                         "temp": np.arange(hours, dtype=float), "site": "north"})


# ---------------------------------------------------------------- time series from a table

def test_hourly_csv_with_a_gap_is_resampled_and_interpolated(tmp_path):
    frame = hourly_frame()
    gap = frame.drop(index=[30, 31]).copy()  # two hours missing from the index
    gap.loc[50, "temp"] = np.nan  # and one empty cell
    path = tmp_path / "gappy.csv"
    gap.to_csv(path, index=False)
    data = {"path": str(path), "time_column": "timestamp", "columns": ["load", "temp"],
            "history": 6}
    # without data.resample the uneven steps are an error that names the fix
    with pytest.raises(ConfigError, match=r"data.time_column.*not evenly spaced.*"
                                          r"data.resample: h"):
        forecast_task(data)
    task = forecast_task({**data, "resample": "hourly", "interpolate_limit": 2})
    series = task.series
    assert len(series) == 120 and series.freq == "h"
    assert series.features == ["load", "temp"] and series.values.shape == (120, 1, 2)
    temp = series.values[:, 0, 1]
    np.testing.assert_allclose(temp, np.arange(120.0))  # gap and empty cell filled linearly
    assert task.cfg.data.source == "csv" and task.cfg.data.dataset == ""
    assert task.describe()["dataset"] == "gappy.csv"


def test_row_order_is_the_time_axis_without_a_time_column(tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"a": np.arange(60.0), "b": np.arange(60.0) * 2, "label": "x"}).to_csv(
        path, index=False)
    task = forecast_task({"path": str(path), "targets": ["b"], "history": 4})
    assert task.series.index is None
    assert task.input_names == ["a", "b"] and task.target_names == ["b"]  # text column skipped
    assert task.n_in == 2 and task.n_out == 1


def test_tz_aware_timestamps(tmp_path):
    t = pd.date_range("2024-01-01", periods=48, freq="h", tz="Europe/Warsaw")
    path = tmp_path / "aware.csv"
    pd.DataFrame({"time": [s.isoformat() for s in t], "v": np.arange(48.0)}).to_csv(
        path, index=False)
    task = forecast_task({"path": str(path), "time_column": "time", "history": 3})
    assert task.series.index.tz is not None  # the stamps' own offset (+01:00) is kept
    assert task.series.index[0] == pd.Timestamp("2024-01-01 00:00", tz="Europe/Warsaw")
    # converted to another zone on request; naive stamps are read in the given zone
    task = forecast_task({"path": str(path), "time_column": "time", "history": 3,
                          "timezone": "Asia/Shanghai"})
    assert str(task.series.index.tz) == "Asia/Shanghai"
    assert task.series.index[0].hour == 7  # 00:00 in Warsaw (UTC+1) = 07:00 in Shanghai
    naive = tmp_path / "naive.csv"
    pd.DataFrame({"time": t.tz_localize(None).strftime("%Y-%m-%d %H:%M"),
                  "v": np.arange(48.0)}).to_csv(naive, index=False)
    task = forecast_task({"path": str(naive), "time_column": "time", "history": 3,
                          "timezone": "Europe/Warsaw"})
    assert task.series.index[0] == pd.Timestamp("2024-01-01 00:00", tz="Europe/Warsaw")
    assert "+01:00" in task.describe()["split_times"]["train"][0]
    # across a daylight-saving change the offsets differ (+01:00, +02:00): read as UTC first
    dst = pd.date_range("2024-03-30", periods=48, freq="h", tz="Europe/Warsaw")
    pd.DataFrame({"time": [s.isoformat() for s in dst], "v": np.arange(48.0)}).to_csv(
        tmp_path / "dst.csv", index=False)
    task = forecast_task({"path": str(tmp_path / "dst.csv"), "time_column": "time",
                          "history": 3})
    assert str(task.series.index.tz) == "UTC" and task.series.freq == "h"
    task = forecast_task({"path": str(tmp_path / "dst.csv"), "time_column": "time",
                          "history": 3, "timezone": "Europe/Warsaw"})
    assert task.series.index.equals(dst) and len(task.series) == 48


def test_long_format_is_pivoted_to_one_node_per_id(tmp_path):
    t = pd.date_range("2024-01-01", periods=40, freq="10min")
    rows = [{"sensor": s, "time": ts, "speed": 10.0 * k + i}
            for k, s in enumerate(["b7", "a3"]) for i, ts in enumerate(t)]
    rows = [r for r in rows if not (r["sensor"] == "a3" and r["time"] == t[5])]  # one missing
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(path, index=False)  # shuffled
    task = forecast_task({"path": str(path), "time_column": "time", "id_column": "sensor",
                          "columns": ["speed"], "history": 4})
    s = task.series
    assert s.columns == ["a3", "b7"] and s.values.shape == (40, 2, 1) and s.freq == "10min"
    np.testing.assert_allclose(s.values[:, 0, 0], 10.0 + np.arange(40))  # gap interpolated
    np.testing.assert_allclose(s.values[:, 1, 0], np.arange(40.0))
    only_b = forecast_task({"path": str(path), "time_column": "time", "id_column": "sensor",
                            "nodes": ["b7"], "history": 4})
    assert only_b.series.columns == ["b7"]


def test_parquet_reads_like_csv(tmp_path):
    pytest.importorskip("pyarrow")
    frame = hourly_frame(60)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame.to_parquet(tmp_path / "load.parquet")
    task = forecast_task({"path": str(tmp_path / "load.parquet"), "time_column": "timestamp",
                          "columns": ["load"], "history": 4})
    assert task.series.values.shape == (60, 1, 1) and task.series.freq == "h"


# ---------------------------------------------------------------- arrays

def test_npz_and_npy_arrays(tmp_path):
    two = np.arange(200.0).reshape(50, 4)
    three = np.arange(600.0).reshape(50, 4, 3)
    np.savez(tmp_path / "arrays.npz", flow=two, full=three)
    np.save(tmp_path / "one.npy", two)
    task = forecast_task({"source": "npz", "path": str(tmp_path / "arrays.npz"), "key": "flow",
                          "history": 4})
    assert task.series.values.shape == (50, 4) and task.series.columns == ["0", "1", "2", "3"]
    task = forecast_task({"path": str(tmp_path / "arrays.npz"), "key": "full", "history": 4,
                          "nodes": [1, 3], "features": ["f0", "f2"], "targets": ["f2"]})
    assert task.cfg.data.source == "npz"
    assert task.n_nodes == 2 and task.n_in == 2 and task.n_out == 1
    np.testing.assert_allclose(task.raw["train"][0], [three[0, 1, 2], three[0, 3, 2]])
    task = forecast_task({"path": str(tmp_path / "one.npy"), "history": 4})
    assert task.series.values.shape == (50, 4)
    with pytest.raises(ConfigError, match=r"data.key: arrays.npz has no array 'ful'.*"
                                          r"Did you mean 'full'.*flow, full"):
        forecast_task({"path": str(tmp_path / "arrays.npz"), "key": "ful"})
    with pytest.raises(ConfigError, match=r"data.key: arrays.npz holds 2 arrays \(flow, full\)"):
        forecast_task({"path": str(tmp_path / "arrays.npz")})


# ---------------------------------------------------------------- errors

def test_missing_file_names_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg_file = tmp_path / "cfgs" / "my.yaml"
    cfg_file.parent.mkdir()
    cfg_file.write_text("task: forecast\ndata: {source: csv, path: nowhere.csv}\n")
    with pytest.raises(DataError) as err:
        config.load(cfg_file)
    text = str(err.value)
    assert "data.path" in text and "nowhere.csv" in text
    assert str(tmp_path / "cfgs" / "nowhere.csv") in text and "next to the config" in text
    assert "current folder" in text
    gone = tmp_path / "gone.csv"  # absolute paths are checked when the file is read
    with pytest.raises(DataError, match=r"data.path: file .*gone.csv does not exist"):
        forecast_task({"path": str(gone)})


def test_relative_path_next_to_the_config_then_cwd(tmp_path, monkeypatch):
    (tmp_path / "cfgs").mkdir()
    hourly_frame(40).to_csv(tmp_path / "cfgs" / "load.csv", index=False)
    hourly_frame(40).to_csv(tmp_path / "other.csv", index=False)
    (tmp_path / "cfgs" / "a.yaml").write_text("task: forecast\ndata: {path: load.csv}\n")
    (tmp_path / "cfgs" / "b.yaml").write_text("task: forecast\ndata: {path: other.csv}\n")
    monkeypatch.chdir(tmp_path)
    a = config.load(tmp_path / "cfgs" / "a.yaml")
    assert a.data.path == str(tmp_path / "cfgs" / "load.csv") and a.name == "a"
    assert a.data.source == "csv"
    assert config.load(tmp_path / "cfgs" / "b.yaml").data.path == str(tmp_path / "other.csv")


@pytest.mark.parametrize("data, key, pattern", [
    ({"time_column": "timestmap"}, "data.time_column",
     r"column 'timestmap' is not in load.csv. Did you mean 'timestamp'\? "
     r"Its columns: timestamp, load, temp, site"),
    ({"columns": ["lod"]}, "data.columns", r"Did you mean 'load'"),
    ({"columns": ["site"]}, "data.columns",
     r"column 'site' of load.csv holds non-numeric values, e.g. 'north'"),
    ({"time_column": "site"}, "data.time_column",
     r"column 'site' does not hold time stamps: e.g. 'north' does not parse"),
    ({"time_column": "temp"}, "data.time_column", r"holds numbers"),
    ({"id_column": "site"}, "data.id_column", r"needs data.time_column"),
])
def test_column_errors_name_the_key(tmp_path, data, key, pattern):
    hourly_frame(40).to_csv(tmp_path / "load.csv", index=False)
    with pytest.raises(ConfigError, match=pattern) as err:
        forecast_task({"path": str(tmp_path / "load.csv"), **data})
    assert key in str(err.value)


def test_bad_time_value_is_shown(tmp_path):
    frame = hourly_frame(40)
    frame.loc[17, "timestamp"] = "2024-03-01 25:99"
    frame.to_csv(tmp_path / "load.csv", index=False)
    with pytest.raises(ConfigError, match=r"data.time_column: column 'timestamp' does not hold "
                                          r"time stamps: e.g. '2024-03-01 25:99'"):
        forecast_task({"path": str(tmp_path / "load.csv"), "time_column": "timestamp"})


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("time,value\n")
    with pytest.raises(DataError, match=r"data.path .*empty.csv is empty"):
        forecast_task({"path": str(tmp_path / "empty.csv")})
    with pytest.raises(DataError, match=r"has a header \(time, value\) but no rows"):
        forecast_task({"path": str(tmp_path / "header.csv")})


def test_conflicting_source_keys(tmp_path):
    hourly_frame(40).to_csv(tmp_path / "load.csv", index=False)
    path = str(tmp_path / "load.csv")
    with pytest.raises(ConfigError, match=r"data.dataset 'jena' names a registered dataset, "
                                          r"but data.source csv reads data.path"):
        forecast_cfg({"dataset": "jena", "path": path})
    with pytest.raises(ConfigError, match=r"data.time_column applies to data.source csv, "
                                          r"not registry"):
        forecast_cfg({"time_column": "timestamp"})
    with pytest.raises(ConfigError, match=r"data.source csv reads the file data.path"):
        forecast_cfg({"source": "csv"})
    with pytest.raises(ConfigError, match=r"data.path is read by data.source"):
        forecast_cfg({"source": "registry", "path": path})
    with pytest.raises(ConfigError, match=r"\.npz file, which data.source csv does not read; "
                                          r"set data.source: npz"):
        forecast_cfg({"source": "csv", "path": "x.npz"})
    with pytest.raises(ConfigError, match=r"data.key applies to data.source npz"):
        forecast_cfg({"path": path, "key": "a"})


def test_explicit_name_and_registry_configs_still_work():
    cfg = config.from_dict({"name": "mine", "task": "forecast"})
    assert cfg.name == "mine" and cfg.data.source == "registry"
    assert cfg.data.dataset == "los_loop"
    assert config.from_dict({"task": "forecast"}).name == "forecast"
    with pytest.raises(ConfigError, match=r"'task' is required"):
        config.from_dict({"data": {}})


# ---------------------------------------------------------------- end to end, the 5-line config

def test_five_line_csv_config_trains_reports_and_predicts(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    hourly_frame(240).drop(columns=["temp", "site"]).to_csv(folder / "load.csv", index=False)
    (folder / "my.yaml").write_text(
        "task: forecast\n"
        "data: {source: csv, path: load.csv, time_column: timestamp, columns: [load]}\n"
        "model: {kind: gru, hidden_size: 8}\n"
        "train: {epochs: 1}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder: the path is found next to it
    result = rnnlab.run(str(folder / "my.yaml"), runs_dir=tmp_path / "runs", progress=False)
    summary = result.summary
    assert summary["name"] == "my" and summary["dataset"] == "load.csv"
    assert set(summary["test"]) >= {"rmse", "mae", "mape"}
    assert set(summary["baselines"]) == {"last_value", "train_mean"}
    assert summary["data"]["freq"] == "h" and summary["data"]["steps"] == 240
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["data"]["path"] == str(folder / "load.csv") and saved["data"]["dataset"] == ""
    # a run folder made from a file evaluates and predicts like any other
    from rnnlab.inference import evaluate_run

    computed, stored = evaluate_run(str(result.run_dir))
    assert computed["rmse"] == pytest.approx(stored["rmse"])
    latest = pd.read_csv(folder / "load.csv").tail(12)
    latest.to_csv(tmp_path / "latest.csv", index=False)
    from rnnlab.tasks.forecast.predict import read_history_csv

    table = result.predict(read_history_csv(tmp_path / "latest.csv"))
    assert list(table.columns) == ["load"] and table.index[0] == pd.Timestamp(
        pd.read_csv(folder / "load.csv")["timestamp"].iloc[-1]) + pd.Timedelta("1h")


# ---------------------------------------------------------------- labelled texts

def labelled_frame(n: int = 60) -> pd.DataFrame:
    good = ["great phone, love it", "Works well. Great value!", "excellent and fast"]
    bad = ["terrible, broke in a day", "awful battery", "slow and bad"]
    rows = [(good[i % 3] if i % 2 else bad[i % 3], "pos" if i % 2 else "neg") for i in range(n)]
    return pd.DataFrame(rows, columns=["review", "sentiment"])


def classify_task(data: dict, model: dict | None = None):
    from rnnlab.tasks.classify import ClassifyTask

    raw = {"task": "classify", "data": data, "model": model or {"hidden_size": 8},
           "train": {"epochs": 1}}
    return ClassifyTask(config.from_dict(raw))


@pytest.mark.parametrize("language, token", [("en", "great"), ("char", "g")])
def test_labelled_csv_en_and_char(tmp_path, language, token):
    frame = labelled_frame()
    frame.loc[3, "review"] = ""  # dropped, counted
    frame.to_csv(tmp_path / "reviews.csv", index=False)
    task = classify_task({"path": str(tmp_path / "reviews.csv"), "text_column": "review",
                          "label_column": "sentiment", "language": language},
                         {"hidden_size": 8, "embedding": "learned", "embedding_dim": 8})
    assert task.classes == ["neg", "pos"] and task.cfg.data.source == "labelled_csv"
    assert token in task.vocab
    sizes = {k: len(p.labels) for k, p in task.parts.items()}
    assert sizes == {"train": 47, "val": 6, "test": 6}
    for part in task.parts.values():  # stratified: both classes in every split
        assert set(part.labels.tolist()) == {0, 1}
    info = task.describe()
    assert info["dropped_rows"] == 1 and info["dataset"] == "reviews.csv"
    seqs = task.encode_texts(["great value", "zzz unseen"])
    assert len(seqs.lengths) == 2
    model = task.build_model()
    assert task.predict(model, ["great value"], top=2)[0][0][0] in ("neg", "pos")


def test_labelled_csv_end_to_end_keeps_label_names(tmp_path):
    labelled_frame(80).to_csv(tmp_path / "r.csv", index=False)
    result = rnnlab.run({"task": "classify",
                         "data": {"path": str(tmp_path / "r.csv"), "text_column": "review",
                                  "label_column": "sentiment"},
                         "model": {"hidden_size": 8}, "train": {"epochs": 1}},
                        runs_dir=tmp_path / "runs", progress=False)
    assert result.summary["classes"] == ["neg", "pos"] and result.summary["name"] == "r"
    assert "majority_class" in result.summary["baselines"]
    labels = json.loads((result.run_dir / "labels.json").read_text())
    assert labels["classes"] == ["neg", "pos"] and labels["dataset"] == "r.csv"
    [[(label, p), _]] = result.predict(["great phone"], top=2)
    assert label in ("neg", "pos") and 0 <= p <= 1


def test_labelled_csv_zh_with_word2vec(tmp_path):
    pytest.importorskip("jieba")
    pytest.importorskip("gensim")
    good, bad = ["这个手机很好用", "质量非常好，推荐"], ["太差了，不推荐", "电池很差"]
    rows = [(good[i % 2] if i % 2 else bad[i % 2], i % 2) for i in range(40)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "zh.csv", index=False)
    task = classify_task({"path": str(tmp_path / "zh.csv"), "language": "zh",
                          "vector_size": 8, "w2v_epochs": 1},
                         {"hidden_size": 8, "embedding": "word2vec"})
    pretrained = task.data.pretrained
    assert task.classes == ["0", "1"] and "推荐" in task.vocab and pretrained is not None
    assert pretrained.shape == (len(task.vocab), 8)
    seqs = task.encode_texts(["手机很好"])
    assert int(seqs.lengths[0]) >= 3  # <s> ... </s>


def test_labelled_csv_errors(tmp_path):
    frame = labelled_frame()
    frame.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(ConfigError, match=r"data.text_column: column 'text' is not in r.csv.*"
                                          r"Its columns: review, sentiment"):
        classify_task({"path": str(tmp_path / "r.csv"), "label_column": "sentiment"})
    with pytest.raises(ConfigError, match=r"data.label_column: column 'sentimnet'.*"
                                          r"Did you mean 'sentiment'"):
        classify_task({"path": str(tmp_path / "r.csv"), "text_column": "review",
                       "label_column": "sentimnet"})
    frame.assign(sentiment="pos").to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(DataError, match=r"data.label_column 'sentiment' of one.csv holds a "
                                        r"single class \('pos'\)"):
        classify_task({"path": str(tmp_path / "one.csv"), "text_column": "review",
                       "label_column": "sentiment"})
    with pytest.raises(ConfigError, match=r"data.dataset: 'nams' is not a valid choice. "
                                          r"Did you mean 'names'"):
        config.from_dict({"task": "classify", "data": {"dataset": "nams"}})
    with pytest.raises(ConfigError, match=r"word2vec.*data.language en or zh"):
        classify_task({"path": str(tmp_path / "r.csv"), "text_column": "review",
                       "label_column": "sentiment"}, {"embedding": "word2vec"})


# ---------------------------------------------------------------- a plain-text corpus

CORPUS = ("The quick brown fox jumps over the lazy dog.\n"
          "A lazy dog sleeps while the quick fox runs.\n") * 12


@pytest.mark.parametrize("level", ["char", "word"])
def test_text_corpus_language_model(tmp_path, level):
    (tmp_path / "corpus.txt").write_text(CORPUS)
    result = rnnlab.run({"task": "language",
                         "data": {"path": str(tmp_path / "corpus.txt"), "level": level,
                                  "num_steps": 8, "sample_length": 5, "clean": "lower"},
                         "model": {"kind": "gru", "hidden_size": 8},
                         "train": {"epochs": 1, "batch_size": 8, "lr": 0.5,
                                   "optimizer": "sgd"}},
                        runs_dir=tmp_path / "runs", progress=False)
    s = result.summary
    assert s["dataset"] == "corpus.txt" and s["data"]["level"] == level
    if level == "word":
        assert s["data"]["vocab_size"] == 14  # 13 words ('dog' and 'dog.' differ) + <unk>
    assert set(s["baselines"]) == {"unigram", "uniform"} and s["test"]["perplexity"] > 0
    assert len(s["samples"]) == 1  # not the time-machine prefixes: the held-out start
    (tmp_path / "corpus.txt").unlink()  # generating needs the run folder, not the corpus
    [text] = result.predict("the lazy" if level == "word" else "the")
    assert text.startswith("the")


def test_text_corpus_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(DataError, match=r"data.path .*empty.txt is empty"):
        rnnlab.run({"task": "language", "data": {"path": str(tmp_path / "empty.txt")}},
                   runs_dir=tmp_path / "runs", progress=False)
    (tmp_path / "zh.txt").write_text("我们的时间机器" * 10)
    with pytest.raises(DataError, match=r"too few.*data.clean: letters"):
        rnnlab.run({"task": "language", "data": {"path": str(tmp_path / "zh.txt")}},
                   runs_dir=tmp_path / "runs", progress=False)
    with pytest.raises(ConfigError, match=r"data.encoding applies to data.source text"):
        config.from_dict({"task": "language", "data": {"encoding": "latin-1"}})
