"""Simulated admins: the whole exchange dialog, and a burst of ``/admin_bot``.

An admin acts through the fake (``user_sends`` / ``user_clicks``) and waits for the bot's
message or edit showing the next screen, recognised by a phrase of its Russian template
(``templates/ru/*.j2``). A step's latency runs from the moment its update is queued in the
fake to the arrival of that reply's request at the fake: what a user would wait, less
Telegram's own network.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from bench.bots import BenchTelegram, Reply
from tests.e2e import harness

SCREENS = harness.SCREENS["ru"]  # a phrase of each screen's Russian template
UNAVAILABLE = SCREENS["unavailable"]  # rates_unavailable.j2
STEPS = ("source", "target", "margin", "amount", "result")
MARGIN, AMOUNT = "2", "1000"  # within the limits of both RUB and USDT (config.yaml)

Direction = tuple[str, str]


@dataclass
class Outcome:
    """What a group of admins saw: latency (s) per step, and what went wrong. A burst's
    latencies are all under ``source``."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    timeouts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0
    dialogs: int = 0
    updates: int = 0
    seconds: float = 0.0  # from the start of the first admin to the end of the last


@dataclass
class Admin:
    """One simulated admin (a Telegram user id listed in ADMIN_IDS)."""

    tg: BenchTelegram
    user_id: int
    outcome: Outcome
    step_timeout: float  # the longest wait for one reply

    async def act(self, step: str, action: Callable[[], object]) -> Reply | None:
        """Queue the update ``action`` makes; wait for the screen of ``step``, or the card
        saying the rate is unavailable (what the quote step shows then)."""
        future = self.tg.expect(self.user_id, (SCREENS[step], UNAVAILABLE))
        started = time.monotonic()
        try:
            action()
        except AssertionError as exc:  # the fake found no such button: a wrong screen
            future.cancel()
            self.outcome.errors[f"{step}: {str(exc).splitlines()[0][:80]}"] += 1
            return None
        self.outcome.updates += 1
        try:
            reply = await asyncio.wait_for(future, self.step_timeout)
        except TimeoutError:  # wait_for cancelled the future: the fake drops it
            self.outcome.timeouts[step] += 1
            return None
        self.outcome.latencies[step].append(reply.arrived - started)
        return reply

    async def dialog(self, direction: Direction, pause: Callable[[], float]) -> None:
        """/admin_bot → give → get → margin → amount → result card; ``pause()`` s between."""
        inputs = ("/admin_bot", rf"\b{direction[0]}$", rf"\b{direction[1]}$", MARGIN, AMOUNT)
        message_id = 0
        for step, text in zip(STEPS, inputs, strict=True):
            if step != "source" and (seconds := pause()) > 0:
                await asyncio.sleep(seconds)
            if step in ("target", "margin"):  # a tap on the keyboard of the screen before
                action = partial(self.tg.user_clicks, self.user_id, message_id, text)
            else:
                action = partial(self.tg.user_sends, self.user_id, text)
            reply = await self.act(step, action)
            if reply is None:
                return
            self.outcome.unavailable += UNAVAILABLE in reply.text
            message_id = reply.message_id
        self.outcome.dialogs += 1


async def dialogs(
    tg: BenchTelegram,
    admins: Sequence[int],
    *,
    rounds: int,
    think: float,
    directions: Sequence[Direction],
    rng: random.Random,
    step_timeout: float,
) -> Outcome:
    """Every admin walks ``rounds`` whole dialogs on random directions, all at once.

    Between two steps an admin thinks ``think`` × U(0.5, 1.5) seconds, and each starts at a
    random moment of the first 2 × ``think`` seconds, so the load is steady, not in waves.
    With ``think=0`` each admin takes the directions in turn (a warm-up of every one).
    """
    outcome, started = Outcome(), time.monotonic()
    pause = partial(rng.uniform, 0.5 * think, 1.5 * think)  # think × U(0.5, 1.5)

    async def one(index: int, uid: int) -> None:
        admin = Admin(tg, uid, outcome, step_timeout)
        for round_ in range(rounds):
            await asyncio.sleep(pause() if round_ else rng.uniform(0, 2 * think))
            direction = rng.choice(directions) if think else directions[index % len(directions)]
            await admin.dialog(direction, pause)

    await asyncio.gather(*(one(i, uid) for i, uid in enumerate(admins)))
    outcome.seconds = time.monotonic() - started
    return outcome


async def burst(tg: BenchTelegram, admins: Sequence[int], limit: float) -> Outcome:
    """Queue ``/admin_bot`` from each admin in one go; wait for every first screen. Latencies
    run from the first update queued, ``seconds`` to the last reply."""
    futures = [tg.expect(uid, (SCREENS["source"],)) for uid in admins]
    started = time.monotonic()
    for uid in admins:
        tg.user_sends(uid, "/admin_bot")
    done, pending = await asyncio.wait(futures, timeout=limit)
    for future in pending:
        future.cancel()
    arrivals = [f.result().arrived - started for f in done if not f.cancelled()]
    seconds = max(arrivals, default=limit)
    return Outcome(
        {"source": arrivals}, Counter(source=len(pending)), updates=len(admins), seconds=seconds
    )
