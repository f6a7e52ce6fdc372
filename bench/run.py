"""``python -m bench.run``: the real ``crypto-helper run`` beside a hand-written reference bot.

Both run as subprocesses polling a fake Bot API each (:mod:`bench.bots`), with the e2e
fake providers (latency injected), all on 127.0.0.1. Phases, each bounded in updates, all
under ``--timeout``: (0) start the reference, then crypto-helper; wait until crypto-helper's
``/health/ready`` shows every direction cached; warm up with one dialog per direction;
(1) ``--admins`` admins walk ``--rounds`` whole dialogs each, thinking between steps, then
each bot's RSS (the reference gets ``/admin_bot`` from the same admins: its one screen is all
it serves); (2) ``--burst`` × ``/admin_bot`` from new admins to each bot in turn,
``--burst-repeats`` times; (3) one admin queues ``--flood`` taps at once while five others
take turns sending ``/admin_bot``, against the same probes with no flood. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import yaml

from bench.bots import RunningBot, start_crypto_helper, start_reference
from bench.load import Admin, Direction, Outcome, burst, dialogs
from bench.report import Flood, Report, render
from tests.e2e.fake_providers import FakeProviders
from tests.e2e.harness import ROOT

WARM_IDS, DIALOG_IDS, BURST_IDS = 9_000_001, 10_000_001, 20_000_001
FLOOD_IDS = range(30_000_001, 30_000_007)  # the flooder, then the five others, who take turns
REFERENCE_WARM = 50


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    add = parser.add_argument
    add("--admins", type=int, default=200, help="concurrent admins in the dialog phase")
    add("--rounds", type=int, default=3, help="whole dialogs per admin in the dialog phase")
    add("--think", type=float, default=1.0, help="mean seconds an admin thinks between steps")
    add("--burst", type=int, default=2000, help="/admin_bot from this many distinct admins")
    add("--burst-repeats", type=int, default=3, help="bursts per bot, taken in turn")
    add("--flood", type=int, default=5000, help="taps one admin queues at once (0: no flood)")
    add("--probes", type=int, default=40, help="the others' /admin_bot, 50 ms apart")
    add("--latency", type=float, default=0.3, help="seconds of latency in the fake providers")
    add("--ttl", type=float, default=10.0, help="cache.ttl_seconds and preload interval")
    add("--timeout", type=float, default=900.0, help="stop everything after this many seconds")
    add("--step-timeout", type=float, default=30.0, help="longest wait for one reply")
    add("--seed", type=int, default=1, help="seed of the admins' choices and pauses")
    add("--log-level", default="INFO", help="LOG_LEVEL of both bots")
    add("--keep", action="store_true", help="keep the work folder (bot logs, config)")
    args = parser.parse_args(argv)
    if min(args.admins, args.rounds, args.burst, args.burst_repeats, args.think) < 0:
        parser.error("counts and --think must not be negative")
    return args


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def checkpoint(report: Report, bot: RunningBot, name: str) -> None:
    report.rss.setdefault(bot.name, {})[name] = bot.process.rss_mb()
    gc.collect()  # the bench's own garbage, then frozen: its GC does not pause the next phase
    gc.freeze()


async def run(args: argparse.Namespace, report: Report) -> None:
    """The phases, in order, filling ``report`` as they go."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    directions: list[Direction] = [(a, b) for a, bs in config["directions"].items() for b in bs]
    rng = random.Random(args.seed)
    walk = partial(dialogs, directions=directions, rng=rng, step_timeout=args.step_timeout)
    warm_ids = range(WARM_IDS, WARM_IDS + max(len(directions), REFERENCE_WARM))
    dialog_ids = range(DIALOG_IDS, DIALOG_IDS + args.admins)
    bursts = [
        range(BURST_IDS + i * args.burst, BURST_IDS + (i + 1) * args.burst)
        for i in range(args.burst_repeats if args.burst else 0)
    ]
    admins = [*warm_ids, *dialog_ids, *(i for ids in bursts for i in ids), *FLOOD_IDS]
    env = {"ADMIN_IDS": ",".join(map(str, admins)), "LOG_LEVEL": args.log_level}  # both bots'
    work = report.work = Path(tempfile.mkdtemp(prefix="crypto-helper-bench-"))
    providers = FakeProviders().start()
    for name in ("rapira", "apilayer"):
        providers.latency(name, args.latency)
    bots = report.bots
    try:
        say("reference bot: start, warm-up")
        bots.append(await start_reference(work, env))
        await burst(bots[0].tg, warm_ids[:REFERENCE_WARM], args.step_timeout)
        say("crypto-helper: start")
        bot = await start_crypto_helper(work, providers, args.ttl, env)
        bots.append(bot)
        for running in bots:
            checkpoint(report, running, "first getUpdates")
        say("crypto-helper: waiting for /health/ready with every direction cached")
        report.ready_seconds = await bot.process.ready(
            lambda body: all(d["cached"] for d in body["directions"])
        )
        say(f"crypto-helper: warm-up, one dialog per direction ({len(directions)})")
        warmed = await walk(bot.tg, warm_ids[: len(directions)], rounds=1, think=0.0)
        if warmed.dialogs < len(directions):
            report.problems.append(f"warm-up: {warmed.dialogs}/{len(directions)} dialogs")
        if args.admins and args.rounds:
            say(f"dialogs: {args.admins} admins × {args.rounds}, think {args.think:g} s")
            before = bot.meter()
            outcome = await walk(bot.tg, dialog_ids, rounds=args.rounds, think=args.think)
            report.dialogs = outcome, (before, bot.meter())
            for running in bots:  # the reference: /admin_bot from the same admins
                if running is not bot:
                    await burst(running.tg, dialog_ids, args.step_timeout * 4)
                checkpoint(report, running, "busy")
        for round_, ids in enumerate(bursts, 1):
            for running in bots:
                say(f"burst {round_}/{len(bursts)}: {len(ids)} → {running.name}")
                before = running.meter()
                result = await burst(running.tg, ids, args.step_timeout * 4)
                report.bursts.append((running.name, result, (before, running.meter())))
                checkpoint(report, running, "end")
        if args.flood:
            say(f"flood: {args.flood} taps from one admin, {args.probes} probes from the others")
            report.flood = await flood(bot, args)
    finally:
        for running in reversed(bots):
            await running.stop()
        providers.stop()


async def flood(bot: RunningBot, args: argparse.Namespace) -> Flood:
    """The others' ``/admin_bot`` latency without, then with ``args.flood`` taps queued at
    once by one admin on their source keyboard; the bot's RSS sampled every 20 ms."""
    tg, (flooder, *others) = bot.tg, FLOOD_IDS
    shown = await burst(tg, FLOOD_IDS, args.step_timeout)  # every one's first screen
    if shown.timeouts["source"] or (source := tg.last_message(flooder)) is None:
        raise RuntimeError("flood: an admin got no source screen")
    outcome = Outcome()
    admins = [Admin(tg, uid, outcome, args.step_timeout) for uid in others]

    async def probe() -> list[float]:
        outcome.latencies["source"] = []
        for n in range(args.probes):
            admin = admins[n % len(admins)]
            await admin.act("source", partial(tg.user_sends, admin.user_id, "/admin_bot"))
            await asyncio.sleep(0.05)
        return outcome.latencies["source"]

    result = Flood(quiet=await probe(), rss_before=bot.process.rss_mb())
    result.rss_peak, started = result.rss_before, time.monotonic()
    taps = [tg.user_clicks(flooder, source.message_id, r"\bRUB$") for _ in range(args.flood)]

    async def sample() -> None:
        while True:
            result.rss_peak = max(result.rss_peak, bot.process.rss_mb())
            if math.isnan(result.drain) and not tg.pending_updates():
                result.drain = time.monotonic() - started
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    try:
        result.flooded = await probe()
        await asyncio.sleep(1.0)  # what the bot still works through shows in the RSS
    finally:
        sampler.cancel()
    result.timeouts = sum(outcome.timeouts.values())
    result.answers = [str(a.params.get("text", "")) for q in taps if (a := tg.callback_answer(q))]
    return result


async def main_async(args: argparse.Namespace, report: Report) -> int:
    """``run`` under ``--timeout``; SIGINT and SIGTERM cancel it, so the bots stop first."""
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):  # asyncio.run's loop.close() removes them
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    try:
        async with asyncio.timeout(args.timeout):
            await run(args, report)
    except TimeoutError:
        report.problems.append(f"stopped by --timeout after {args.timeout:g} s")
        return 1
    except asyncio.CancelledError:
        report.problems.append("interrupted (SIGINT/SIGTERM); subprocesses stopped")
        return 130
    except RuntimeError as exc:
        report.problems.append(str(exc))
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(args=args)
    try:
        code = asyncio.run(main_async(args, report))
    except KeyboardInterrupt:
        report.problems.append("interrupted (Ctrl-C)")
        code = 130
    print(render(report))  # it reads the bot logs: the work folder goes after it
    if report.work is not None and (code or args.keep):
        print(f"\nwork folder (bot logs, config): {report.work}")
    elif report.work is not None:
        shutil.rmtree(report.work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
