"""The migrations ship inside the package: an installed wheel (the Docker image) has them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow  # builds the wheel


def test_the_wheel_carries_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("crypto_helper-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"engine/journal/migrations/{p.relative_to(ROOT / 'engine/journal/migrations')}"
        for p in (ROOT / "engine/journal/migrations").rglob("*")
        if p.is_file() and p.suffix in (".py", ".mako")
    }
    assert "engine/journal/migrations/versions/0001_journal_quotes.py" in shipped
    assert shipped <= names
