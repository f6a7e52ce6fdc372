"""Fixtures shared by every test: the repository's own definitions, copied when edited."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

Edit = Callable[[str, str, str], Path]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of config.yaml, flows/ and templates/ in a temporary folder (the cwd)."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONFIG_PATH", raising=False)
    return tmp_path


@pytest.fixture
def edit(project: Path) -> Edit:
    """``edit("config.yaml", old, new)``: replace one exact occurrence in a project file."""

    def _edit(name: str, old: str, new: str) -> Path:
        path = project / name
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
        path.write_text(text.replace(old, new), encoding="utf-8")
        return path

    return _edit
