"""The bench's subprocesses: start, watch (RSS, CPU), stop — and never leave one behind.

Each child runs in a session of its own (a Ctrl-C in the terminal reaches the bench only,
which then stops its children in order) and is stopped with SIGTERM, then SIGKILL after a
grace period. An ``atexit`` hook kills whatever is still running if the bench dies first.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from bench.e2e import SCRUBBED

_TICKS = os.sysconf("SC_CLK_TCK")


def child_env(**values: str) -> dict[str, str]:
    """The parent's environment without bot settings or proxies, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED and not k.lower().endswith("_proxy")
    }
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost")
    env.update(values)
    return env


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` (VmRSS of /proc/<pid>/status), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used (/proc/<pid>/stat), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Child:
    """One subprocess writing stdout and stderr to ``log_path``."""

    running: ClassVar[set[Child]] = set()

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path, log_path: Path
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self.killed = False

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        Child.running.add(self)

    async def wait_ready(self, ready: asyncio.Event, limit: float) -> None:
        """Wait for ``ready`` (e.g. the bot's first getUpdates); fail if the child exits."""
        deadline = time.monotonic() + limit
        while not ready.is_set():
            if not self.alive:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc and self.proc.returncode} at start:\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in {limit:.0f} s:\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    async def stop(self, grace: float = 10.0, sig: int = signal.SIGTERM) -> int | None:
        """``sig`` (SIGTERM), then SIGKILL after ``grace`` seconds; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.to_thread(self.proc.wait, grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self.returncode = self.proc.wait()
        Child.running.discard(self)
        return self.returncode

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
            self.proc.wait(5)
        Child.running.discard(self)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def crypto_helper_argv(config: Path) -> list[str]:
    """``crypto-helper run --config CONFIG``: the console script of this venv when present."""
    script = Path(sys.executable).with_name("crypto-helper")
    if script.exists():
        return [str(script), "run", "--config", str(config)]
    return [sys.executable, "-m", "engine.cli", "run", "--config", str(config)]


@atexit.register
def _kill_leftovers() -> None:
    for child in list(Child.running):
        child.kill()
