"""Fixtures shared by every test: the repository's own definitions, copied when edited."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.lazy_aiogram import import_aiogram

# The tests import aiogram as crypto-helper run does: its models built on first use (and
# collection 1.5 s quicker). tests/engine/test_lazy_aiogram.py compares both ways.
import_aiogram()

# pytester runs the snapshot kit's plugin as a desk would (tests/engine/testing/); it must be
# enabled here, in the top conftest.
pytest_plugins = ["pytester"]

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


Pos = Callable[..., str]


@pytest.fixture
def pos(project: Path) -> Pos:
    """``pos("config.yaml", "cryptos")`` → ``"18:11"``: where a unique text starts.

    ``pos(name, "price: ask", at="ask")`` gives the position of ``ask`` in that unique text.

    Error tests state exact positions without depending on the line numbers of the shipped
    files, which change whenever someone edits them.
    """

    def _pos(name: str, needle: str, at: str | None = None) -> str:
        """Position of ``needle`` (or of ``at`` inside it)."""
        text = (project / name).read_text(encoding="utf-8")
        assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times in {name}"
        offset = text.index(needle) + (needle.index(at) if at else 0)
        before = text[:offset]
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return f"{line}:{col}"

    return _pos
