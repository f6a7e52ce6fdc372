"""SIGTERM finishes what the process took: nothing fetched is lost, nothing fails on the way out.

An admin sends several messages in a row while Telegram answers slowly, so that when
SIGTERM comes the process holds updates that are queued behind that admin's first one
(fetched, not yet handled). Each of them must be either handled before the process exits or
left for the next process (polling: not confirmed by a ``getUpdates`` offset; webhook: not
answered 200), and the exit must be clean: code 0 within 10 s, no "Session is closed", no
ERROR, no traceback, no failure notice in the chat.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets, free_port

SECRET = "e2e-shutdown-Secret_1"
DIRTY = re.compile(r"Session is closed|Traceback|^\S+ \S+ (?:ERROR|CRITICAL) ", re.MULTILINE)
FAILURE = "Что-то пошло не так"
# What the admin sends in a row, and what the bot answers to each; each reply takes SLOW
# seconds to send.
BURST = {
    "2": "Введите сумму",
    "1000": "Клиент получает: 11,49 USDT",
    "/rates": "Текущие курсы",
    "/help": "считает обмен для клиента",
}
# Sent once SIGTERM arrived: the process must not take it; the next one answers it.
LATE = "/cancel"
LATE_REPLY = re.compile("Нечего отменять|Расчёт отменён")
SLOW = 1.0


@pytest.fixture(scope="module")
def hook_launcher(
    tmp_path_factory: pytest.TempPathFactory, own_tg: FakeTelegram, own_upstreams: FakeProviders
) -> Iterator[BotLauncher]:
    launch = BotLauncher(
        tmp_path_factory.mktemp("e2e-shutdown-webhook"),
        own_tg,
        own_upstreams,
        edits={"mode: polling": "mode: webhook"},
    )
    yield launch
    launch.stop_all()


def start_webhook_bot(launcher: BotLauncher) -> BotProcess:
    port = free_port()
    return launcher.start(
        ready="setWebhook",
        PORT=str(port),
        WEBHOOK_URL=f"http://127.0.0.1:{port}",
        WEBHOOK_SECRET=SECRET,
    )


def confirmed_below(tg: FakeTelegram, since: int, until: int) -> int:
    """The highest ``getUpdates`` offset sent between the marks: every id below it is
    confirmed."""
    return max(
        (
            int(c.params.get("offset", 0))
            for c in tg.calls("getUpdates", since=since)
            if c.seq <= until
        ),
        default=0,
    )


def delivered(tg: FakeTelegram, since: int) -> set[int]:
    """Update ids given to a poller (in ``getUpdates`` answers) since the mark."""
    return {
        u["update_id"]
        for c in tg.calls("getUpdates", since=since)
        if c.ok
        for u in (c.response or {}).get("result", [])
    }


def unanswered(tg: FakeTelegram, admin: Person, updates: dict[int, str]) -> list[int]:
    """The burst's updates whose reply is not in the chat."""
    chat = "\n".join(m.norm for m in tg.bot_messages(admin.user_id))
    return [update_id for update_id, text in updates.items() if BURST[text] not in chat]


async def burst_then_sigterm(
    tg: FakeTelegram, process: BotProcess, admin: Person
) -> tuple[dict[int, str], int]:
    """The admin sends :data:`BURST` while replies are slow; SIGTERM once every update of it
    reached the process and the first reply is being sent; then :data:`LATE`. Returns the
    burst's update ids and texts, and the late update's id."""
    await admin.open_step("margin")
    tg.slow_down("sendMessage", SLOW)
    tg.slow_down("editMessageText", SLOW)
    try:
        mark = tg.mark()
        updates: list[dict[str, Any]] = [tg.user_sends(admin.user_id, text) for text in BURST]
        await tg.wait_for(
            lambda: (
                tg.pending_updates() == 0
                and tg.calls("sendMessage", chat_id=admin.user_id, since=mark)
            ),
            10,
            "the burst taken, a reply sent",
        )
        assert process.proc is not None
        signalled = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        late = tg.user_sends(admin.user_id, LATE)["update_id"]
        await asyncio.to_thread(process.stop)  # the fake answers meanwhile
        process.stop_seconds = time.monotonic() - signalled
    finally:
        tg.slow_down("sendMessage", 0)
        tg.slow_down("editMessageText", 0)
    return {u["update_id"]: u["message"]["text"] for u in updates}, late


def assert_clean_exit(process: BotProcess) -> None:
    assert not process.killed, f"{process.name} ignored SIGTERM for 10 s and was killed"
    assert process.returncode == 0, f"{process.name} exited with {process.returncode}"
    assert process.stop_seconds is not None and process.stop_seconds < 10
    assert DIRTY.findall(process.log()) == []
    assert_no_secrets(process.log())


async def test_polling_sigterm_with_updates_queued_behind_a_busy_admin(
    own_tg: FakeTelegram, own_launcher: BotLauncher
) -> None:
    tg = own_tg
    first = own_launcher.start()
    admin = Person(tg, ADMINS[0])
    start = tg.mark()
    updates, late = await burst_then_sigterm(tg, first, admin)
    assert_clean_exit(first)
    print(f"polling: stopped in {first.stop_seconds:.2f} s")
    left = unanswered(tg, admin, updates)
    confirmed = confirmed_below(tg, start, tg.mark())
    lost = [i for i in left if i < confirmed]
    assert lost == [], f"confirmed to Telegram but never answered: {lost}"
    print(f"polling: {len(updates) - len(left)} answered before the exit, {len(left)} left")
    assert late >= confirmed, "the update sent after SIGTERM was confirmed"
    assert not LATE_REPLY.search(tg.transcript(admin.user_id))
    # not confirmed: the next process gets them
    second_mark = tg.mark()
    second = own_launcher.start()
    await tg.wait_for(lambda: {*left, late} <= delivered(tg, second_mark), 10, "redelivery")
    await admin.sees(LATE_REPLY)
    second.stop()
    assert_clean_exit(second)
    assert FAILURE not in tg.transcript(admin.user_id)
    assert admin.refusals() == []


async def test_webhook_sigterm_with_updates_queued_behind_a_busy_admin(
    own_tg: FakeTelegram, hook_launcher: BotLauncher
) -> None:
    tg = own_tg
    first = start_webhook_bot(hook_launcher)
    admin = Person(tg, ADMINS[1])
    updates, _late = await burst_then_sigterm(tg, first, admin)
    assert_clean_exit(first)
    print(f"webhook: stopped in {first.stop_seconds:.2f} s")
    # Every update the fake delivered was answered 200 (it keeps an update until then):
    # each must have its reply.
    assert unanswered(tg, admin, updates) == []
    # The late one was refused (503) or found the port closed: still queued, and the next
    # process answers it.
    assert not LATE_REPLY.search(tg.transcript(admin.user_id))
    assert tg.pending_updates() == 1
    second = start_webhook_bot(hook_launcher)
    await admin.sees(LATE_REPLY)
    second.stop()
    assert_clean_exit(second)
    assert FAILURE not in tg.transcript(admin.user_id)
    assert admin.refusals() == []
