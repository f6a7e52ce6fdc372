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

from bench.telegram import BenchTelegram, Reply

SCREENS = {
    "source": "Какую валюту отдаёт клиент?",  # source.j2
    "target": "Какую валюту клиент получает?",  # target.j2
    "margin": "Введите наценку",  # margin.j2
    "amount": "Введите сумму",  # amount.j2
    "result": "Клиент получает:",  # result.j2
}
UNAVAILABLE = "Курс сейчас недоступен"  # rates_unavailable.j2
STEPS = tuple(SCREENS)
MARGIN, AMOUNT = "2", "1000"  # within the limits of both RUB and USDT (config.yaml)

Direction = tuple[str, str]


@dataclass
class Outcome:
    """What a group of admins saw: latency (s) per step, and what went wrong."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    timeouts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0
    dialogs: int = 0
    updates: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class Admin:
    """One simulated admin (a Telegram user id listed in ADMIN_IDS)."""

    def __init__(
        self, tg: BenchTelegram, user_id: int, outcome: Outcome, step_timeout: float
    ) -> None:
        self.tg, self.user_id, self.outcome, self.step_timeout = tg, user_id, outcome, step_timeout

    async def act(
        self, step: str, action: Callable[[], object], markers: Sequence[str] = ()
    ) -> Reply | None:
        """Queue the update ``action`` makes; wait for the screen of ``step`` (or a marker)."""
        future = self.tg.expect(self.user_id, (SCREENS[step], *markers))
        started = time.monotonic()
        try:
            action()
        except AssertionError as exc:  # the fake found no such button: a wrong screen
            self.tg.forget(self.user_id, future)
            self.outcome.errors[f"{step}: {str(exc).splitlines()[0][:80]}"] += 1
            return None
        self.outcome.updates += 1
        try:
            reply = await asyncio.wait_for(future, self.step_timeout)
        except TimeoutError:
            self.tg.forget(self.user_id, future)
            self.outcome.timeouts[step] += 1
            return None
        self.outcome.latencies[step].append(reply.arrived - started)
        return reply

    async def dialog(self, direction: Direction, pause: Callable[[], float]) -> None:
        """/admin_bot → give → get → margin → amount → result card; ``pause()`` s between."""
        give, get = direction
        uid, tg = self.user_id, self.tg
        steps: list[tuple[str, Callable[[int], object]]] = [
            ("source", lambda _: tg.user_sends(uid, "/admin_bot")),
            ("target", lambda mid: tg.user_clicks(uid, mid, rf"\b{give}$")),
            ("margin", lambda mid: tg.user_clicks(uid, mid, rf"\b{get}$")),
            ("amount", lambda _: tg.user_sends(uid, MARGIN)),
            ("result", lambda _: tg.user_sends(uid, AMOUNT)),
        ]
        message_id = 0
        for index, (step, action) in enumerate(steps):
            if index and (seconds := pause()) > 0:
                await asyncio.sleep(seconds)
            reply = await self.act(step, lambda a=action, m=message_id: a(m), (UNAVAILABLE,))
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
    outcome = Outcome()

    def pause() -> float:
        return think * rng.uniform(0.5, 1.5)

    async def one(index: int, uid: int) -> None:
        admin = Admin(tg, uid, outcome, step_timeout)
        for round_ in range(rounds):
            await asyncio.sleep(pause() if round_ else rng.uniform(0, 2 * think))
            direction = rng.choice(directions) if think else directions[index % len(directions)]
            await admin.dialog(direction, pause)

    await asyncio.gather(*(one(i, uid) for i, uid in enumerate(admins)))
    outcome.ended = time.monotonic()
    return outcome


@dataclass
class Burst:
    """``/admin_bot`` from many admins queued at once, and the first screens coming back."""

    sent: int
    latencies: list[float]
    seconds: float  # first update queued → last reply arrived

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0


async def burst(tg: BenchTelegram, admins: Sequence[int], limit: float) -> Burst:
    """Queue ``/admin_bot`` from each admin in one go; wait for every first screen."""
    futures = [tg.expect(uid, (SCREENS["source"],)) for uid in admins]
    started = time.monotonic()
    for uid in admins:
        tg.user_sends(uid, "/admin_bot")
    done, pending = await asyncio.wait(futures, timeout=limit)
    for uid, future in zip(admins, futures, strict=True):
        if future in pending:
            tg.forget(uid, future)
            future.cancel()
    arrivals = [f.result().arrived for f in done if not f.cancelled()]
    seconds = (max(arrivals) - started) if arrivals else limit
    return Burst(len(admins), [a - started for a in arrivals], seconds)
