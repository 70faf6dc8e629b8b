"""docs/config.md is generated from the config classes and must match them; the READMEs agree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rnnlab.config import ModelConfig, RunConfig, TrainConfig, option
from rnnlab.docs import COMMAND, config_markdown, fields_table, main
from rnnlab.tasks import TASKS, get_task

ROOT = Path(__file__).resolve().parents[1]


def test_config_docs_are_up_to_date():
    stored = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert stored == config_markdown(), (
        f"docs/config.md is out of date with the config classes; regenerate it: {COMMAND}")


def test_every_key_of_every_config_class_is_documented():
    text = config_markdown()
    classes = [(RunConfig, ""), (ModelConfig, "model."), (TrainConfig, "train.")]
    for name in TASKS:
        task = get_task(name)
        classes += [(task.DataConfig, "data."), (task.ModelConfig, "model.")]
        assert f"## task: {name}" in text
    for cls, prefix in classes:
        for f in dataclasses.fields(cls):
            if cls is RunConfig and f.name in ("data", "model", "train"):
                continue
            assert f"| `{prefix}{f.name}` |" in text, f"{prefix}{f.name} missing"


def test_a_new_field_appears_with_type_default_bounds_and_help():
    @dataclasses.dataclass
    class Extra:
        """The ``data:`` section of something new."""

        window: int | None = option(None, "rows per window | or none", ge=2)
        columns: list[str] = option(["a", "b"], "which columns")

    table = fields_table(Extra, "data.")
    assert "| `data.window` | int or null, >= 2 | `null` | rows per window \\| or none |" in table
    assert "| `data.columns` | list of text | `[\"a\", \"b\"]` | which columns |" in table


def test_a_field_without_help_is_refused():
    @dataclasses.dataclass
    class Bare:
        size: int = 3

    try:
        fields_table(Bare, "data.")
    except ValueError as err:
        assert "data.size" in str(err) and "option(" in str(err)
    else:
        raise AssertionError("a key without help text was documented silently")


def test_generator_writes_a_file(tmp_path):
    out = tmp_path / "config.md"
    assert main(["-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == config_markdown()
