"""One admin floods, another works: the other's reply latency and the bot's peak RSS.

```sh
python -m bench.flood --flood 5000            # throttled (the shipped bot), then unthrottled
python -m bench.flood --only after
```

For each variant it starts ``crypto-helper run`` (polling, a fake Bot API and fake providers
on 127.0.0.1; "before" through ``bench/unthrottled.py``, which switches the per-user
throttle off), opens the dialog for the flooder and five other admins, then queues
``--flood`` taps on the flooder's source keyboard at once and, right behind them, an
``/admin_bot`` of the other admins (taking turns) every ``--every`` seconds. It prints the
others' latency (update queued → reply at the fake) p50/p99/max and what the flood added to
its p99 (against a "quiet" run of the same probes, no flood), how long the flood took to
drain, the bot's RSS before and at its peak (sampled every 20 ms) and how many "too fast"
notices the flooder got.
Not a test: figures for a report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.bots import RunningBot, start_crypto_helper, wait_ready
from bench.load import Admin, Outcome
from bench.stats import ms, percentile, table
from bench.telegram import BenchTelegram
from tests.e2e.fake_providers import FakeProviders
from tests.e2e.harness import ROOT, rss_mb

FLOODER = 5001
# The other admins take turns: one person sending 20 commands a second would be a flood too.
OTHERS = tuple(range(5002, 5007))
TOO_FAST = "Слишком быстро"


class FloodTelegram(BenchTelegram):
    """Counts the "too fast" notices the bot gives."""

    def __init__(self) -> None:
        super().__init__()
        self.notices = 0

    async def dispatch(
        self, raw_method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if TOO_FAST in str(params.get("text", "")):
            self.notices += 1
        return await super().dispatch(raw_method, params)


@dataclass
class Figures:
    variant: str
    latencies: list[float]
    timeouts: int
    drain: float
    rss_before: float
    rss_peak: float
    notices: int
    flooder_answers: int


async def start(work: Path, providers: FakeProviders, throttled: bool) -> RunningBot:
    wrapper = None if throttled else ROOT / "bench" / "unthrottled.py"
    bot = await start_crypto_helper(
        work, providers, (FLOODER, *OTHERS), "WARNING", wrapper=wrapper, tg=FloodTelegram()
    )
    await wait_ready(bot)
    return bot


async def sample(
    bot: RunningBot, peak: list[float], drained: list[float], stop: asyncio.Event
) -> None:
    """Every 20 ms: the bot's RSS (its peak), and when the fake's queue first ran empty."""
    started = time.monotonic()
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(bot.pid))
        if not drained and not bot.tg.pending_updates():
            drained.append(time.monotonic() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def run_variant(
    work: Path, providers: FakeProviders, throttled: bool, taps: int, args: argparse.Namespace
) -> Figures:
    bot = await start(work, providers, throttled)
    tg = bot.tg
    assert isinstance(tg, FloodTelegram)
    try:
        outcome = Outcome()
        flooder = Admin(tg, FLOODER, outcome, 60)
        source = await flooder.act("source", lambda: tg.user_sends(FLOODER, "/admin_bot"))
        assert source is not None, "the flooder got no source screen"
        for uid in OTHERS:
            await Admin(tg, uid, outcome, 60).act(
                "source", partial(tg.user_sends, uid, "/admin_bot")
            )
        rss_before = rss_mb(bot.pid)
        peak, drained = [rss_before], []
        stop = asyncio.Event()
        flood = [tg.user_clicks(FLOODER, source.message_id, r"\bRUB$") for _ in range(taps)]
        sampler = asyncio.create_task(sample(bot, peak, drained, stop))
        probe = Outcome()
        probing = [Admin(tg, uid, probe, args.step_timeout) for uid in OTHERS]
        for n in range(args.probes):
            admin = probing[n % len(probing)]
            await admin.act("source", partial(tg.user_sends, admin.user_id, "/admin_bot"))
            await asyncio.sleep(args.every)
        await asyncio.sleep(args.settle)  # what the bot still works through shows in the RSS
        stop.set()
        await sampler
        drain = drained[0] if drained else float("nan")
        answers = sum(1 for q in flood if q in tg.answered_callbacks)
        variant = (
            "quiet (no flood)"
            if not taps
            else "after (throttled)"
            if throttled
            else "before (unthrottled)"
        )
        return Figures(
            variant,
            probe.latencies["source"],
            sum(probe.timeouts.values()),
            drain,
            rss_before,
            peak[0],
            tg.notices,
            answers,
        )
    finally:
        await bot.stop()


def report(figures: list[Figures], args: argparse.Namespace) -> str:
    quiet = next((f for f in figures if f.variant.startswith("quiet")), None)

    def added(f: Figures) -> str:
        if quiet is None or f is quiet:
            return "-"
        return ms(percentile(f.latencies, 99) - percentile(quiet.latencies, 99))

    rows = [
        [
            f.variant,
            ms(percentile(f.latencies, 50)),
            ms(percentile(f.latencies, 99)),
            added(f),
            ms(max(f.latencies, default=float("nan"))),
            f.timeouts,
            f"{f.drain:.2f} s",
            f"{f.rss_before:.0f} → {f.rss_peak:.0f} MB",
            f.flooder_answers,
            f.notices,
        ]
        for f in figures
    ]
    head = (
        f"{args.flood} taps from one admin at once; the other admin's /admin_bot every "
        f"{args.every * 1000:.0f} ms ({args.probes} probes)"
    )
    return (
        head
        + "\n"
        + table(
            [
                "variant",
                "other p50",
                "other p99",
                "p99 added by the flood",
                "other max",
                "timeouts",
                "fake queue empty",
                "RSS before → peak",
                "flooder taps answered",
                "too-fast notices",
            ],
            rows,
        )
    )


async def main_async(args: argparse.Namespace) -> None:
    providers = FakeProviders().start()
    try:
        figures = []
        # quiet: the same probes with no flood, what "delayed by the flood" is measured against
        variants = {"quiet": (True, 0), "after": (True, args.flood), "before": (False, args.flood)}
        for name, (throttled, taps) in variants.items():
            if args.only and name not in (args.only, "quiet"):
                continue
            with tempfile.TemporaryDirectory(prefix=f"bench-flood-{name}-") as work:
                figures.append(await run_variant(Path(work), providers, throttled, taps, args))
        print(report(figures, args))
    finally:
        providers.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=5000, help="taps queued at once")
    parser.add_argument("--probes", type=int, default=40, help="the other admin's updates")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between probes")
    parser.add_argument("--step-timeout", type=float, default=120.0)
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds of RSS sampling after the last probe"
    )
    parser.add_argument("--only", choices=("before", "after"))
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
