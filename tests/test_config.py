"""Config parsing: every key checked, errors that name the key and the fix."""

import pytest

from rnnlab import config
from rnnlab.errors import ConfigError

BASE = {"name": "t", "task": "forecast", "data": {"dataset": "los_loop"},
        "model": {"kind": "gru"}, "train": {"epochs": 2}}


def parse(**changes):
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            raw.setdefault(section, {})[field] = value
        else:
            raw[section] = value
    return config.from_dict(raw)


def test_defaults_fill_in():
    cfg = parse()
    assert cfg.model.hidden_size == 64 and cfg.train.optimizer == "adam"
    assert cfg.data.split == [0.6, 0.2, 0.2]


def test_unknown_key_suggests_the_nearest():
    with pytest.raises(ConfigError, match=r"model\.hiden_size.*Did you mean 'hidden_size'"):
        parse(model__hiden_size=8)
    with pytest.raises(ConfigError, match="Did you mean 'train'"):
        parse(trian={"epochs": 1})


def test_wrong_type_and_range():
    with pytest.raises(ConfigError, match="model.hidden_size: expected a whole number"):
        parse(model__hidden_size="big")
    with pytest.raises(ConfigError, match="model.hidden_size must be >= 1, got 0"):
        parse(model__hidden_size=0)
    with pytest.raises(ConfigError, match="train.lr must be > 0"):
        parse(train__lr=-0.1)
    with pytest.raises(ConfigError, match="expected true or false"):
        parse(model__bidirectional="yes please")


def test_choices_list_the_valid_values():
    with pytest.raises(ConfigError, match="'lstn' is not a valid choice. Did you mean 'lstm'"):
        parse(model__kind="lstn")
    with pytest.raises(ConfigError, match="unknown task 'forcast'.*'forecast'"):
        parse(task="forcast")


def test_scientific_notation_without_dot_is_a_number():
    # YAML 1.1 (PyYAML) reads 5e-4 as the string "5e-4"; users write it anyway.
    assert parse(train__lr="5e-4").train.lr == 5e-4


def test_split_must_sum_to_one():
    with pytest.raises(ConfigError, match="sum to 1"):
        parse(data__split=[0.6, 0.3, 0.3])


def test_quick_and_set_overrides_apply_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: t\ntask: forecast\ntrain: {epochs: 50}\nquick: {train.epochs: 2}\n")
    assert config.load(path).train.epochs == 50
    assert config.load(path, quick=True).train.epochs == 2
    cfg = config.load(path, quick=True, overrides=["train.epochs=7", "model.kind=lstm"])
    assert cfg.train.epochs == 7 and cfg.model.kind == "lstm"
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config.load(path, overrides=["train.epochs"])
    with pytest.raises(ConfigError, match="Did you mean 'epochs'"):
        config.load(path, overrides=["train.epoch=3"])


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\ntask: forecast\nmodel:\n  kind: [gru\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: YAML syntax error"):
        config.load(path)


def test_resolved_config_round_trips_through_yaml():
    import yaml

    cfg = parse(model__hidden_size=16)
    again = config.from_dict(yaml.safe_load(config.to_yaml(cfg)))
    assert again == cfg


def test_nonlinearity_only_for_rnn():
    with pytest.raises(ConfigError, match="kind 'rnn' only"):
        parse(model__kind="gru", model__nonlinearity="relu")
