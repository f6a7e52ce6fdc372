"""bench/journal.py still runs (a smoke run with small numbers; its figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_journal_bench_prints_both_backends_and_the_verdict() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.journal",
            "--quotes",
            "60",
            "--batch",
            "20",
            "--repeats",
            "1",
            "--concurrency",
            "5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "1. Journal write cost (wall µs per quote)" in out
    assert out.count("\nsqlite ") == 1 and out.count("\npostgresql ") == 1, out
    assert "journal off        p99" in out
    assert "journal sqlite     p99" in out and "journal postgresql p99" in out
    assert "Target: the journal moves the quote step's p99 by at most 2 ms:" in out
