"""``crypto-helper run`` refuses to start on a configuration mistake: one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import ROOT

TOKEN = "123456789:AAEexampleexampleexampleexampleexam"


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("BOT_TOKEN", "ADMIN_IDS", "PORT", "CONFIG_PATH", "TELEGRAM_API_URL")}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", *args], cwd=tmp_path,
        env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize(("env", "line"), [
    ({}, "environment: BOT_TOKEN: not set (create a bot with @BotFather and export it)"),
    ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "me"},
     "environment: ADMIN_IDS: Input should be a valid integer, unable to parse string as an "
     "integer"),
])
def test_bad_environment(tmp_path: Path, env: dict[str, str], line: str) -> None:
    done = run(tmp_path, env, "--config", str(ROOT / "config.yaml"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [line]
    assert TOKEN not in done.stderr


def test_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text().replace("kind: crypto", "kind: crypt"))
    done = run(tmp_path, {"BOT_TOKEN": TOKEN}, "--config", str(config))
    assert done.returncode == 2
    line, summary = done.stderr.splitlines()  # what `check` says, and what to do
    assert line.endswith("currencies[USDT].kind: 'crypt' is not one of 'fiat', 'crypto'; "
                         "did you mean 'crypto'?")
    assert summary == "1 problem(s) found; fix them (crypto-helper check) and start again."
    assert "Traceback" not in done.stderr
