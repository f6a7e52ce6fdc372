"""bench/ still runs against the current engine (tiny runs; their figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # runs the bench, the bots in subprocesses


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


def test_inprocess_prints_both_bots_and_a_profile() -> None:
    out = run(
        "bench.inprocess", "--updates", "40", "--repeats", "1", "--profile", "5", timeout=120
    )
    assert "reference      CPU per update" in out
    assert "crypto-helper  CPU per update" in out
    assert "crypto-helper / reference: ×" in out
    assert "── crypto-helper: the 5 functions with the most own time (cProfile)" in out


def test_load_run_prints_every_figure() -> None:
    out = run(
        *("bench.run", "--admins", "3", "--rounds", "1", "--think", "0.05"),
        *("--burst", "30", "--burst-repeats", "1", "--timeout", "150"),
        *("--flood", "300", "--probes", "5"),
        timeout=200,
    )
    for line in (
        "1. Start-up and memory",
        "2. Dialog step latency",
        "3. Burst",
        "4. Flood: one admin queues 300 taps at once",
        "5. Sanity",
        "Targets",
        "  RSS at 3 busy admins ≤ 110 MB and below the reference: ",
        "  start → first getUpdates ≤ 1.2 s: ",
        "  quote step p99 ≤ 30 ms, no admin waits on upstream: ",
        "  burst throughput ≥ the reference: ",
        "  another admin's p99 delayed by a 5 000-tap flood ≤ 100 ms: ",
        "told 'too fast' 1×",
        "timeouts: none; errors: none",
        "calls the fake refused (reference): none",
        "exit codes: crypto-helper ×0, reference ×0",
    ):
        assert line in out, out[-3000:]
    # The flooder's taps let through act on a keyboard already gone: Telegram says the
    # message is not modified (logged at INFO by the bot), and the fake refuses nothing else.
    refused = next(line for line in out.splitlines() if "fake refused (crypto-helper)" in line)
    assert refused.endswith(": none") or refused.count("×") == refused.count(
        "message is not modified"
    ), refused
    table = out[out.index("1. Start-up") : out.index("2. Dialog")]
    for bot in ("crypto-helper", "reference"):  # start-up s, then RSS at 3 checkpoints
        row = next(line for line in table.splitlines() if line.startswith(bot + " "))
        assert len([float(cell) for cell in row.split()[1:]]) == 4, row
