"""The set's files and fingerprint; what a new config.yaml changes (pure, no event loop)."""

from __future__ import annotations

from pathlib import Path

from reload_helpers import copy_project, edit

from engine.config.loader import load_config
from engine.config.models import AppConfig
from engine.reload.changes import keep_running, rates_differ, restart_needed
from engine.reload.fileset import file_set


def test_the_set_is_config_flows_templates_and_strings(tmp_path: Path) -> None:
    config_file = copy_project(tmp_path)
    files = file_set(config_file, load_config(config_file))
    names = [p.relative_to(tmp_path).as_posix() for p in files.files]
    assert names[:2] == ["config.yaml", "flows/exchange.yaml"]
    assert "templates/ru/source.j2" in names and "templates/en/_header.j2" in names
    assert "templates/ru/strings.yaml" in names and "templates/en/strings.yaml" in names
    assert len(names) == 2 + 2 * 17
    assert files.folders == (
        tmp_path,
        tmp_path / "flows",
        tmp_path / "templates/ru",
        tmp_path / "templates/en",
    )


def test_the_fingerprint_follows_the_contents(tmp_path: Path) -> None:
    config_file = copy_project(tmp_path)
    config = load_config(config_file)
    first = file_set(config_file, config).fingerprint()
    assert len(first) == 12 and first == file_set(config_file, config).fingerprint()
    source = tmp_path / "templates/ru/source.j2"
    text = source.read_text(encoding="utf-8")
    source.write_text(text + " ", encoding="utf-8")
    changed = file_set(config_file, config).fingerprint()
    assert changed != first
    source.write_text(text, encoding="utf-8")  # saved back as it was: the same set
    assert file_set(config_file, config).fingerprint() == first
    (tmp_path / "templates/ru/new.j2").write_text("x", encoding="utf-8")  # a new template
    assert file_set(config_file, config).fingerprint() != first


def test_what_may_change_the_set(tmp_path: Path) -> None:
    config_file = copy_project(tmp_path)
    files = file_set(config_file, load_config(config_file))
    ru = tmp_path / "templates/ru"
    assert files.holds(config_file) and files.holds(tmp_path / "flows/exchange.yaml")
    assert files.holds(ru / "source.j2") and files.holds(ru / "new.j2")
    assert files.holds(ru / "strings.yaml")
    for other in (
        ru / ".source.j2.swp",
        ru / "source.j2~",
        ru / "notes.txt",
        tmp_path / "data/rates.json",
        tmp_path / "other.yaml",
        tmp_path / "flows/other.yaml",
    ):
        assert not files.holds(other), other


def _config(folder: Path, edits: dict[str, str] | None = None) -> AppConfig:
    config_file = copy_project(folder)
    for old, new in (edits or {}).items():
        edit(config_file, old, new)
    return load_config(config_file)


def test_restart_only_settings_are_named_with_both_values(tmp_path: Path) -> None:
    running = _config(tmp_path / "a")
    new = _config(tmp_path / "b", {"mode: polling": "mode: webhook"})
    assert restart_needed(running, new) == ["bot.mode (polling → webhook)"]
    kept = keep_running(running, new)
    assert kept.bot.mode == "polling"
    assert restart_needed(running, kept) == []
    assert keep_running(running, running) == running


def test_what_is_on_the_rate_side(tmp_path: Path) -> None:
    running = _config(tmp_path / "a")
    same = _config(tmp_path / "c", {"allow_groups: false": "allow_groups: true"})
    assert not rates_differ(running, same)  # the dialog's own
    cheaper = _config(tmp_path / "d", {'USD/RUB: "81.50"': 'USD/RUB: "80.00"'})
    assert rates_differ(running, cheaper)
    redis = _config(tmp_path / "e", {"backend: memory": "backend: redis"})
    assert not rates_differ(running, redis)  # restart only, never the rate side
    assert restart_needed(running, redis) == ["storage.backend (memory → redis)"]
