"""The two bots under load, each polling a fake Bot API of its own.

* :func:`start_crypto_helper`: ``crypto-helper run`` on a copy of the shipped definitions whose
  providers are the fakes (``tests/e2e/harness.write_project``), its health server on a free
  127.0.0.1 port, ready when ``/health/ready`` shows every direction cached;
* :func:`start_reference`: ``bench/reference_bot.py``.

Also what is read from a running bot: CPU and RSS (:class:`Meter`), Prometheus counters.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from bench.e2e import API_KEY, ROOT, FakeProviders, free_port, write_project
from bench.load import Direction
from bench.process import Child, child_env, cpu_seconds, crypto_helper_argv, rss_mb
from bench.stats import LoopLag
from bench.telegram import BenchTelegram

READY_TIMEOUT = 60.0
STOP_GRACE = 15.0
_METRIC = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


@dataclass
class RunningBot:
    """A bot process and the fake it polls; ``port`` serves /health and /metrics (or 0)."""

    name: str
    tg: BenchTelegram
    child: Child
    port: int = 0

    @property
    def pid(self) -> int:
        return self.child.pid

    async def metrics(self) -> dict[str, float]:
        """The bot's Prometheus counters, ``{"name{labels}": value}``."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response,
        ):
            return parse_metrics(await response.text())

    async def stop(self) -> int | None:
        try:
            return await self.child.stop(STOP_GRACE)
        finally:
            await self.tg.close()


@dataclass
class Meter:
    """CPU of a bot and of the bench, the bench loop's lag and the bot's RSS over a phase."""

    pid: int
    lag: LoopLag
    started: float = field(default_factory=time.monotonic)
    bot_cpu: float = 0.0
    bench_cpu: float = 0.0
    rss: float = 0.0

    def __post_init__(self) -> None:
        self.rss = rss_mb(self.pid)
        self.bot_cpu = cpu_seconds(self.pid)
        self.bench_cpu = time.process_time()
        self.lag.take()

    def read(self) -> dict[str, Any]:
        return {
            "seconds": time.monotonic() - self.started,
            "bot_cpu": cpu_seconds(self.pid) - self.bot_cpu,
            "bench_cpu": time.process_time() - self.bench_cpu,
            "lag": self.lag.take(),
            "rss": (self.rss, rss_mb(self.pid)),
        }


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → ``{"name{labels}": value}``."""
    values = {}
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match:
            key = match["name"] + (f"{{{match['labels']}}}" if match["labels"] else "")
            values[key] = float(match["value"])
    return values


def directions_of(config: dict[str, Any]) -> list[Direction]:
    """config.yaml ``directions`` as (give, get) pairs, in order."""
    return [(give, get) for give, gets in config["directions"].items() for get in gets]


def effective_ttl(config: dict[str, Any], provider: str, ttl: float) -> float:
    """``ttl`` stretched to the provider's ``monthly_budget``, as the bot does."""
    from engine.rates.budget import stretch

    budget = (config["providers"].get(provider) or {}).get("monthly_budget")
    return stretch(ttl, SimpleNamespace(monthly_budget=budget))


def _ids(admins: Iterable[int]) -> str:
    return ",".join(map(str, admins))


async def start_reference(
    work: Path, admins: Iterable[int], log_level: str, warm: list[int], step_timeout: float
) -> RunningBot:
    """The reference bot polling a fake of its own, warmed with ``/admin_bot`` from ``warm``."""
    from bench.load import burst

    tg = BenchTelegram()
    await tg.serve()
    env = child_env(
        BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.url, ADMIN_IDS=_ids(admins), LOG_LEVEL=log_level
    )
    argv = [sys.executable, str(ROOT / "bench" / "reference_bot.py")]
    bot = RunningBot(
        "reference bot", tg, Child("reference bot", argv, env, ROOT, work / "ref.log")
    )
    try:
        bot.child.start()
        await bot.child.wait_ready(tg.first_poll, READY_TIMEOUT)
        await burst(tg, warm, step_timeout)
    except BaseException:
        await bot.stop()
        raise
    return bot


@dataclass(frozen=True)
class Wrapper:
    """Start ``crypto-helper`` through ``bench/gc_probe.py`` (diagnosis runs only)."""

    gc_log: Path
    freeze: bool = False
    pin_generics: bool = False


async def start_crypto_helper(
    work: Path,
    providers: FakeProviders,
    admins: Iterable[int],
    *,
    ttl: float,
    log_level: str,
    wrapper: Wrapper | None = None,
) -> RunningBot:
    """``crypto-helper run`` polling a fake of its own (up to its first ``getUpdates``)."""
    edits = {
        "ttl_seconds: 60": f"ttl_seconds: {ttl:g}",
        "interval_seconds: 60": f"interval_seconds: {ttl:g}",
    }
    project = write_project(work / "project", providers, edits)
    tg = BenchTelegram()
    await tg.serve()
    port = free_port()
    env = child_env(
        BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        ADMIN_IDS=_ids(admins),
        API_LAYER_KEY=API_KEY,
        PORT=str(port),
        LOG_LEVEL=log_level,
    )
    argv = crypto_helper_argv(project)
    if wrapper is not None:
        argv = [sys.executable, str(ROOT / "bench" / "gc_probe.py"), *argv[-3:]]
        env.update(
            BENCH_GC_LOG=str(wrapper.gc_log),
            BENCH_GC_FREEZE=str(int(wrapper.freeze)),
            BENCH_PIN_GENERICS=str(int(wrapper.pin_generics)),
        )
    child = Child("crypto-helper", argv, env, project.parent, work / "bot.log")
    bot = RunningBot("crypto-helper", tg, child, port)
    try:
        child.start()
        await child.wait_ready(tg.first_poll, READY_TIMEOUT)
    except BaseException:
        await bot.stop()
        raise
    return bot


async def heap_census(bot: RunningBot, gc_log: Path, limit: float = 30.0) -> dict[str, Any]:
    """Ask a bot started through ``bench/gc_probe.py`` for a heap census (SIGUSR1)."""
    before = set(gc_log.parent.glob(gc_log.name + ".heap*.json"))
    bot.child.signal(signal.SIGUSR1)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        new = set(gc_log.parent.glob(gc_log.name + ".heap*.json")) - before
        if new:
            await asyncio.sleep(0.2)  # let the writer finish
            return dict(json.loads(new.pop().read_text(encoding="utf-8")))
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{bot.name}: no heap census in {limit:.0f} s")


async def wait_ready(bot: RunningBot, limit: float = READY_TIMEOUT) -> float:
    """Until ``/health/ready`` is 200 with every direction cached; the seconds it took."""
    started = time.monotonic()
    url = f"http://127.0.0.1:{bot.port}/health/ready"
    body: object = None
    while True:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response,
            ):
                status, body = response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            status = 0
        directions = body.get("directions", []) if isinstance(body, dict) else []
        if status == 200 and directions and all(d.get("cached") for d in directions):
            return time.monotonic() - started
        if not bot.child.alive:
            raise RuntimeError(f"{bot.name} exited:\n{bot.child.log_tail()}")
        if time.monotonic() - started > limit:
            raise RuntimeError(f"{bot.name} not ready in {limit:.0f} s: {body}")
        await asyncio.sleep(0.1)
