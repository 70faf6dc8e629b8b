"""Sequence classification: data rules with known answers, loaders, models, and quick CLI runs."""

import json
import zipfile

import numpy as np
import pytest
import torch

from checkins_fixture import write_tsmc2014_zip
from rnnlab.data import registry, wordvec
from rnnlab.data.padding import pad_and_pack
from rnnlab.data.sources import checkins, names, reviews
from rnnlab.errors import DataError
from rnnlab.data.sequences import gather_ranges, stratified_split
from rnnlab.data.sources.reviews import review_split
from rnnlab.tasks.classify import SequenceClassifier, TokenEncoder, TutorialRNN

# ---------------------------------------------------------------- known answers


def test_unicode_to_ascii_as_the_tutorial():
    assert names.unicode_to_ascii("Ślusàrski") == "Slusarski"
    assert names.unicode_to_ascii("Ñoño") == "Nono"
    assert names.unicode_to_ascii("O'Néill") == "O'Neill"
    assert names.unicode_to_ascii("Müller-Lüdenscheidt") == "MullerLudenscheidt"  # '-' dropped
    assert names.unicode_to_ascii("Smith, J.; Co") == "Smith, J.; Co"
    assert len(names.ALPHABET) == 57


def test_keep_letters_keeps_accents_and_drops_the_rest():
    assert names.keep_letters("Ślusàrski") == "Ślusàrski"
    assert names.keep_letters("Straße") == "Straße"
    assert names.unicode_to_ascii("Straße") == "Strae"  # the tutorial drops it
    assert names.keep_letters("Mu\u0308ller") == "Müller"  # NFD input is composed (NFC)
    assert names.keep_letters("Müller-Lüdenscheidt\xa0") == "MüllerLüdenscheidt"
    assert names.keep_letters("O'Néill, J.") == "O'Néill, J."


def test_names_as_written_get_ids_of_their_own(repo_root):
    from rnnlab import config
    ascii_ = names.sequences(config.load(repo_root / "configs/names_lstm.yaml").data, 0, 0)
    d = config.load(repo_root / "configs/names_lstm.yaml", overrides=["data.ascii=false"]).data
    written = names.sequences(d, 0, 0)
    assert written.vocab[:57] == list(names.ALPHABET) and len(written.vocab) == 57 + 27
    # the same split either way; only names with accents differ
    for k in ("train", "val", "test"):
        assert written.parts[k].labels.tolist() == ascii_.parts[k].labels.tolist()
    ss, ae = (written.vocab.index(c) for c in "ßa")
    assert written.encode(["Straße"])[0][4] == ss
    assert ascii_.encode(["Straße"])[0] == [names.ALPHABET.index(c) for c in "Strae"]
    # a letter the files never have is folded as the tutorial does: 'å' -> 'a'
    assert written.encode(["Håkon"])[0][1] == ae


def test_review_split_rule():
    # rows numbered from 1: i % 5 == 4 -> val, i % 5 == 0 -> test
    assert review_split(np.arange(1, 11)).tolist() == [
        "train", "train", "train", "val", "test", "train", "train", "train", "val", "test"]


def test_stratified_split_is_disjoint_complete_and_stratified():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    parts = stratified_split(labels, [0.8, 0.1, 0.1], seed=0)
    allidx = np.concatenate(list(parts.values()))
    assert sorted(allidx.tolist()) == list(range(1000))
    assert np.bincount(labels[parts["test"]]).tolist() == [50, 30, 20]
    again = stratified_split(labels, [0.8, 0.1, 0.1], seed=0)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_gather_ranges():
    assert gather_ranges(np.array([2, 7, 0]), np.array([5, 8, 2])).tolist() == [2, 3, 4, 7, 0, 1]
    assert gather_ranges(np.array([3]), np.array([3])).tolist() == []


# ---------------------------------------------------------------- models


def test_tutorial_rnn_batched_equals_one_name_at_a_time():
    torch.manual_seed(0)
    net = TutorialRNN(57, 16, 18)
    names_ = ["Abe", "Zhu", "Nakamura", "O'Neill"]
    idx = [torch.tensor([names.ALPHABET.index(c) for c in n]) for n in names_]
    onehots = [torch.nn.functional.one_hot(i, 57).float() for i in idx]
    packed, _ = pad_and_pack(onehots)
    batched = net(packed)
    for k, x in enumerate(onehots):  # the tutorial's loop: one letter of one name at a time
        h = torch.zeros(1, 16)
        for t in range(len(x)):
            combined = torch.cat([x[t:t + 1], h], 1)
            h, out = net.i2h(combined), net.i2o(combined)
        torch.testing.assert_close(batched[k], torch.log_softmax(out, 1)[0])


@pytest.mark.parametrize("impl", ["scratch", "teaching"])
@pytest.mark.parametrize("pooling,bidirectional", [("last", False), ("last", True), ("mean", True),
                                                   ("max", False)])
def test_packed_batch_equals_each_sequence_alone(impl, pooling, bidirectional):
    from rnnlab import nn as rnn

    torch.manual_seed(0)
    layer = rnn.build_rnn("lstm", impl, input_size=10, hidden_size=6, batch_first=True,
                          bidirectional=bidirectional)
    model = SequenceClassifier(TokenEncoder(10, "learned", 10), layer, 4, pooling).eval()
    seqs = [torch.randint(1, 10, (n, 1)) for n in (5, 2, 7, 1)]
    packed, _ = pad_and_pack(seqs)
    batched = model(packed)
    for k, s in enumerate(seqs):
        alone, _ = pad_and_pack([s])
        torch.testing.assert_close(batched[k], model(alone)[0], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- loaders


def test_input_dropout_acts_in_training_only():
    from rnnlab import nn as rnn

    torch.manual_seed(0)
    layer = rnn.build_rnn("gru", "scratch", input_size=10, hidden_size=6, batch_first=True)
    plain = SequenceClassifier(TokenEncoder(10, "onehot"), layer, 4)
    dropped = SequenceClassifier(TokenEncoder(10, "onehot"), layer, 4, input_dropout=0.5)
    dropped.head = plain.head
    packed, _ = pad_and_pack([torch.randint(1, 10, (n, 1)) for n in (5, 2, 7, 1)])
    torch.testing.assert_close(dropped.eval()(packed), plain.eval()(packed), rtol=0, atol=0)
    dropped.train()
    assert not torch.equal(dropped(packed), dropped(packed))  # fresh masks each call


def test_label_smoothing_changes_the_training_loss_only(repo_root):
    from rnnlab import config
    from rnnlab.tasks.classify import ClassifyTask

    cfg = config.load(repo_root / "configs" / "names_lstm.yaml",
                      overrides=["data.limit=5000", "data.label_smoothing=0.2",
                                 "model.input_dropout=0"])  # same forward twice
    task = ClassifyTask(cfg)
    torch.manual_seed(0)
    model = task.build_model()
    packed, y = next(task.train_batches(1))
    loss, _ = task.train_step(model, (packed, y))
    logits = model(packed)
    k = len(task.classes)
    target = torch.full((len(y), k), 0.2 / k).scatter_(1, y[:, None], 0.8 + 0.2 / k)
    by_hand = -(target * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(loss, by_hand)
    assert not torch.isclose(loss, torch.nn.functional.cross_entropy(logits, y))
    # evaluation reports the plain cross-entropy
    val = task.evaluate(model, "val")["loss"]
    plain = torch.nn.functional.cross_entropy(task.logits(model, "val"),
                                              task.parts["val"].labels)
    assert val == pytest.approx(float(plain), rel=1e-5)


@pytest.mark.realdata
def test_names_loader_on_the_real_files(real_data, monkeypatch):
    monkeypatch.setenv("RNNLAB_NO_BUNDLED", "1")
    data = names.load(real_data)
    assert len(data.texts) == 20074 and len(data.classes) == 18
    counts = dict(zip(data.classes, np.bincount(data.labels).tolist()))
    assert counts["Russian"] == 9408 and counts["Vietnamese"] == 73 and counts["Arabic"] == 2000
    assert set("".join(data.texts)) <= set(names.ALPHABET)
    written = names.load(real_data, ascii=False)
    extra = set("".join(written.texts)) - set(names.ALPHABET)
    assert len(extra) == 27 and {"ß", "ł", "ñ", "ü"} <= extra
    assert written.labels.tolist() == data.labels.tolist()
    assert sum(a != b for a, b in zip(written.texts, data.texts)) == 156
    for f in names.FILES:  # the bundled copies are the published bytes
        assert registry.sha256(registry.BUNDLED_ROOT / f.path) == f.sha256
        assert (registry.BUNDLED_ROOT / f.path).read_bytes() == (real_data / f.path).read_bytes()


@pytest.mark.realdata
def test_reviews_loader_reads_the_zip(real_data):
    frame = reviews.load(real_data)
    assert len(frame) == 62774 and list(frame.columns) == ["cat", "label", "review"]
    assert frame["label"].value_counts().to_dict() == {1: 31728, 0: 31046}
    assert frame["cat"].value_counts()["热水器"] == 575
    assert not frame["review"].str.contains("\ufeff").any()
    assert set(frame["cat"]) == set(reviews.CATEGORY_ENGLISH)


def test_checkins_loader_on_a_file_in_the_published_format(tmp_path):
    write_tsmc2014_zip(tmp_path, users=4, days=3)
    frame = checkins.load(tmp_path)
    raw = zipfile.ZipFile(tmp_path / "foursquare" / "dataset_tsmc2014.zip").read(
        "dataset_tsmc2014/dataset_TSMC2014_NYC.txt")
    assert b"Caf\xe9" in raw  # latin-1 on disk
    assert "Café" in set(frame["venueCategory"])
    assert len(frame) == raw.count(b"\n")
    first = raw.split(b"\r\n")[0].decode("latin-1").split("\t")
    assert str(frame["userId"].iloc[0]) == first[0]
    stamp = frame["time"].iloc[0]
    assert stamp.strftime("%a %b %d %H:%M:%S +0000 %Y") == first[7]
    local = stamp + np.timedelta64(int(first[6]), "m")
    assert frame["local_hour"].iloc[0] == local.hour
    assert len(checkins.load(tmp_path, city="TKY")) > 0


def test_checkins_loader_rejects_other_formats(tmp_path):
    target = tmp_path / "foursquare" / "dataset_tsmc2014.zip"
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("dataset_tsmc2014/dataset_TSMC2014_NYC.txt", "1,2,3\n")
    with pytest.raises(DataError, match="TSMC2014 format"):
        checkins.load(tmp_path)


def test_segmentation_and_word2vec_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    texts = ["我爱北京天安门", "这本书很好看", "酒店服务很差"] * 5
    tokens = wordvec.segment(texts)
    assert tokens[0] == ["我", "爱", "北京", "天安门"]
    assert list((tmp_path / "tokens").iterdir())
    assert wordvec.segment(texts) == tokens
    sentences = wordvec.with_bounds(tokens)
    assert sentences[0][0] == "<s>" and sentences[0][-1] == "</s>"
    first = wordvec.train_word2vec(sentences, vector_size=8, epochs=2)
    files = list((tmp_path / "word2vec").iterdir())
    assert len(files) == 1 and first.vector_size == 8 and "<s>" in first.words
    again = wordvec.train_word2vec(sentences, vector_size=8, epochs=2)
    assert again.words == first.words and np.array_equal(again.vectors, first.vectors)
    wordvec.train_word2vec(sentences, vector_size=8, epochs=3)  # other settings, other file
    assert len(list((tmp_path / "word2vec").iterdir())) == 2


# ---------------------------------------------------------------- quick CLI runs


def _check_run(cli, proc, metric="accuracy"):
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in (cli.cwd / "runs").iterdir() if p.is_dir()]
    for name in ("summary.json", "labels.json", "loss.png", "metrics.png", "confusion.png",
                 "per_class_f1.png", "confusion.csv"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    labels = json.loads((run_dir / "labels.json").read_text())
    assert labels["classes"] == summary["classes"]
    support = np.array([c["support"] for c in summary["per_class"].values()])
    majority = support.max() / support.sum()  # best constant guess on the test split
    test = summary["test"]
    assert test[metric] > (majority if metric == "accuracy" else 1 / len(support)) + 0.05
    assert summary["baselines"]["majority_class"]["accuracy"] <= majority + 1e-9
    cm = np.loadtxt(run_dir / "confusion.csv", delimiter=",", ndmin=2)
    assert cm.sum() == support.sum() and np.trace(cm) / cm.sum() == pytest.approx(test["accuracy"])
    return summary, labels


# Every classification preset runs end to end in its quick variant (the "done when").
@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("preset", ["names_rnn", "names_lstm", "names_gru", "names_bilstm"])
def test_names_quick_run(cli, repo_root, real_data, preset):
    proc = cli("run", repo_root / f"configs/{preset}.yaml", "--quick", "--no-progress",
               env={"RNNLAB_DATA": str(real_data), "RNNLAB_NO_BUNDLED": "1",
                    "OMP_NUM_THREADS": "1"})
    summary, labels = _check_run(cli, proc)
    # names_bilstm keeps the 27 accented letters (data.ascii: false), the others fold them
    letters = 57 + 27 if preset == "names_bilstm" else 57
    assert len(labels["vocab"]) == letters and len(labels["classes"]) == 18


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("preset", ["reviews_rnn", "reviews_gru", "reviews_lstm",
                                    "reviews_bilstm"])
def test_reviews_quick_run(cli, repo_root, real_data, preset):
    proc = cli("run", repo_root / f"configs/{preset}.yaml", "--quick", "--no-progress",
               env={"RNNLAB_DATA": str(real_data), "OMP_NUM_THREADS": "1"})
    summary, labels = _check_run(cli, proc, metric="f1_macro")
    assert labels["classes"] == ["negative", "positive"] and "<s>" in labels["vocab"]
    if preset != "reviews_rnn":  # the gated cells learn faster in 4 short epochs
        assert summary["test"]["f1_macro"] > 0.7


@pytest.mark.realdata
@pytest.mark.slow
def test_reviews_cat_quick_run(cli, repo_root, real_data):
    proc = cli("run", repo_root / "configs/reviews_cat.yaml", "--quick", "--no-progress",
               env={"RNNLAB_DATA": str(real_data), "OMP_NUM_THREADS": "1"})
    summary, labels = _check_run(cli, proc)  # accuracy above the majority category
    assert len(labels["classes"]) == 10 and len(summary["per_class"]) == 10


@pytest.mark.slow
def test_checkins_quick_run_on_the_fixture(cli, repo_root):
    write_tsmc2014_zip(cli.cwd / "data")
    proc = cli("run", repo_root / "configs/checkins.yaml", "--quick", "--no-progress",
               "--data-dir", cli.cwd / "data", env={"OMP_NUM_THREADS": "1"})
    summary, _ = _check_run(cli, proc)
    assert summary["test"]["accuracy@5"] >= summary["test"]["accuracy"]
    assert "Café" in summary["classes"]


def test_checkins_without_the_file_says_where_to_get_it(cli, repo_root):
    proc = cli("run", repo_root / "configs/checkins.yaml", "--quick", "--data-dir",
               cli.cwd / "empty", env={"RNNLAB_DATA": ""})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "foursquare/dataset_tsmc2014.zip not found" in proc.stderr
    assert "rnnlab download checkins" in proc.stderr


def test_bad_classify_configs_are_named(repo_root):
    from rnnlab import config
    from rnnlab.errors import ConfigError
    with pytest.raises(ConfigError, match="form 'tutorial'"):
        config.load(repo_root / "configs/names_rnn.yaml", overrides=["model.kind=lstm"])
    with pytest.raises(ConfigError, match="3 ratios"):
        config.load(repo_root / "configs/names_lstm.yaml", overrides=["data.split=[0.8, 0.2]"])
    with pytest.raises(ConfigError, match="word2vec' is for dataset 'reviews'"):
        config.load(repo_root / "configs/names_lstm.yaml", overrides=["model.embedding=word2vec"])
    with pytest.raises(ConfigError, match="data.target applies to dataset 'reviews' only"):
        config.load(repo_root / "configs/names_lstm.yaml", overrides=["data.target=cat"])
    with pytest.raises(ConfigError, match="data.ascii applies to dataset 'names' only"):
        config.load(repo_root / "configs/reviews_lstm.yaml", overrides=["data.ascii=false"])


def test_seen_in_train_splits_test_accuracy_by_exact_repeats():
    from rnnlab.data.padding import Ragged
    from rnnlab.data.sequences import Part
    from rnnlab.tasks.classify import ClassifyTask

    task = ClassifyTask.__new__(ClassifyTask)  # only the parts are needed
    seqs = lambda *s: Ragged.from_sequences([np.array(x)[:, None] for x in s])  # noqa: E731
    task.parts = {"train": Part(seqs([1, 2], [3], [4, 5, 6]), torch.tensor([0, 1, 0])),
                  # [1, 2] and [3] occur in train; [2, 1] and [1, 2, 3] do not
                  "test": Part(seqs([1, 2], [2, 1], [3], [1, 2, 3]), torch.tensor([0, 0, 1, 1]))}
    truth = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 0, 1])  # seen: right, wrong; unseen: right, right
    out = task.seen_in_train(truth, pred)
    assert out == {"share": 0.5, "count": 2, "accuracy_seen": 0.5, "accuracy_unseen": 1.0}
    # nothing seen: no accuracy to report on that part (None, valid JSON), and no NaN
    task.parts["test"] = Part(seqs([2, 1], [1, 2, 3]), torch.tensor([0, 1]))
    out = task.seen_in_train(np.array([0, 1]), np.array([0, 0]))
    assert out == {"share": 0.0, "count": 0, "accuracy_seen": None, "accuracy_unseen": 0.5}
    json.dumps(out, allow_nan=False)
