"""The bots under load, each polling a :class:`BenchTelegram` of its own.

Processes are started, watched and stopped by ``tests.e2e.harness``, the e2e tests' helper:
:func:`start_crypto_helper` runs ``crypto-helper run`` on a copy of the shipped definitions
whose providers are the fakes, :func:`start_reference` ``bench/reference_bot.py``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.telegram import BenchTelegram
from tests.e2e.fake_providers import API_KEY, FakeProviders
from tests.e2e.harness import ROOT, BotProcess, child_env, free_port, write_project


@dataclass
class RunningBot:
    """A bot process and the fake it polls."""

    name: str
    tg: BenchTelegram
    process: BotProcess

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def startup(self) -> float:
        """Seconds from just before the spawn to its first ``getUpdates`` at the fake."""
        assert self.tg.first_poll_at is not None and self.process.spawned_at is not None
        return self.tg.first_poll_at - self.process.spawned_at

    def meter(self) -> dict[str, float]:
        """The counters a phase is measured by: bot and bench CPU, time, the bot's RSS."""
        return {
            "bot_cpu": self.process.cpu_seconds(),
            "bench_cpu": time.process_time(),
            "seconds": time.monotonic(),
            "rss": self.process.rss_mb(),
        }

    async def stop(self) -> int | None:
        try:
            return await asyncio.to_thread(self.process.stop, 15.0)
        finally:
            await self.tg.close()


async def start_bot(
    name: str,
    config: Path,
    admins: Iterable[int],
    log_level: str,
    command: Sequence[str] | None = None,
    **env: str,
) -> RunningBot:
    """``command`` (``crypto-helper run --config CONFIG``) in ``config``'s folder, its log
    next to ``config``, up to its first ``getUpdates``."""
    fake = await BenchTelegram().serve()
    ids = ",".join(map(str, admins))
    env = child_env(
        BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url, ADMIN_IDS=ids, LOG_LEVEL=log_level, **env
    )
    process = BotProcess(name, config, config.with_name(f"{name}.log"), env, command=command)
    bot = RunningBot(name, fake, process)
    try:
        await process.started(lambda: fake.first_poll_at is not None, 60.0)
    except BaseException:
        await bot.stop()
        raise
    return bot


async def start_reference(work: Path, admins: Iterable[int], log_level: str) -> RunningBot:
    command = [sys.executable, str(ROOT / "bench" / "reference_bot.py")]
    return await start_bot("reference", work / "reference", admins, log_level, command)


async def start_crypto_helper(
    work: Path,
    providers: FakeProviders,
    admins: Iterable[int],
    log_level: str,
    *,
    edits: dict[str, str] | None = None,
) -> RunningBot:
    """``crypto-helper run`` on the shipped definitions with the fake providers and
    ``edits`` to config.yaml, started as a deployed bot restarts: its journal exists
    (``crypto-helper db upgrade`` first, as the README says to do ahead of a deploy)."""
    config = write_project(work / "project", providers, edits)
    upgrade = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("crypto-helper")),
        *("db", "upgrade"),
        cwd=config.parent,
        env=child_env(),
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await upgrade.wait():
        raise RuntimeError("crypto-helper db upgrade failed")
    return await start_bot(
        "crypto-helper",
        config,
        admins,
        log_level,
        API_LAYER_KEY=API_KEY,
        PORT=str(free_port()),
    )


async def wait_ready(bot: RunningBot) -> float:
    """Seconds until ``/health/ready`` shows every direction cached."""

    def cached(body: Any) -> bool:
        directions = body.get("directions") if isinstance(body, dict) else None
        return bool(directions) and all(d.get("cached") for d in directions)

    return await bot.process.ready(cached)
