"""bench/ still runs against the current engine (a smoke run; its figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str, timeout: float) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_inprocess_prints_both_bots() -> None:
    out = run("bench.inprocess", "--updates", "40", "--repeats", "1", timeout=120)
    assert "reference      CPU per update" in out
    assert "crypto-helper  CPU per update" in out
    assert "crypto-helper / reference: ×" in out


def test_load_run_completes_every_phase() -> None:
    out = run(
        "bench.run",
        "--admins",
        "3",
        "--rounds",
        "1",
        "--think",
        "0.05",
        "--burst",
        "30",
        "--burst-repeats",
        "1",
        "--soak",
        "60",
        "--timeout",
        "150",
        timeout=200,
    )
    for section in (
        "1. Dialog step latency",
        "2. Burst",
        "3. Upstream calls",
        "4. Memory",
        "5. Sanity",
        "Targets",
    ):
        assert section in out, out[-3000:]
    assert "timeouts: none" in out
    assert "calls the fake Telegram refused (crypto-helper): none" in out
