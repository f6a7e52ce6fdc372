"""One user's flood is dropped in front of that user's lock; others are not held up."""

from __future__ import annotations

import asyncio
import datetime
import itertools
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Chat, Message, Update, User
from aiogram_dialog.test_tools import MockMessageManager
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from bot_helpers import RecordingBot

from engine.app import create_dispatcher
from engine.bot.throttle import DEFAULT_LIMIT, UserThrottle, setup_throttle
from engine.definitions import Definitions
from engine.rates.offline import create_offline_rates

FLOODER, OTHER = 1001, 1002
TOO_FAST = "Слишком быстро"
_ids = itertools.count(1)


class SlowBot(RecordingBot):
    """Every Bot API call takes a few milliseconds, so a user's updates queue up."""

    async def __call__(
        self, method: TelegramMethod[Any], request_timeout: int | None = None
    ) -> Any:
        await asyncio.sleep(0.005)
        return await super().__call__(method, request_timeout)


class SlowManager(MockMessageManager):
    """Showing a window takes a few milliseconds too."""

    async def show_message(self, bot, new_message, old_message):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.005)
        return await super().show_message(bot, new_message, old_message)


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def user(user_id: int) -> User:
    return User(id=user_id, is_bot=False, first_name="U", language_code="ru")


def chat(user_id: int) -> Chat:
    return Chat(id=user_id, type="private")


def message_update(user_id: int, text: str) -> Update:
    message = Message(
        message_id=next(_ids),
        date=datetime.datetime.now(),
        chat=chat(user_id),
        from_user=user(user_id),
        text=text,
    )
    return Update(update_id=next(_ids), message=message)


def callback_update(user_id: int, data: str) -> Update:
    message = Message(message_id=1, date=datetime.datetime.now(), chat=chat(user_id), text="…")
    query = CallbackQuery(
        id=str(next(_ids)), from_user=user(user_id), chat_instance="1", message=message, data=data
    )
    return Update(update_id=next(_ids), callback_query=query)


def too_fast(bot: RecordingBot) -> list[str]:
    texts = [c.text for c in bot.calls if isinstance(c, SendMessage | AnswerCallbackQuery)]
    return [t for t in texts if t and TOO_FAST in t]


@pytest.fixture
async def app(definitions: Definitions):  # type: ignore[no-untyped-def]
    rates = create_offline_rates(definitions.config)
    app = create_dispatcher(
        definitions,
        rates=rates,
        admins=(FLOODER, OTHER),
        storage=JsonMemoryStorage(),
        message_manager=MockMessageManager(),
    )
    yield app
    await rates.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda: message_update(FLOODER, "/admin_bot"),
        lambda: callback_update(FLOODER, "stale:button"),
    ],
)
async def test_a_flood_is_bounded_and_told_once(definitions: Definitions, make) -> None:  # type: ignore[no-untyped-def]
    rates = create_offline_rates(definitions.config)
    manager = SlowManager()
    app = create_dispatcher(
        definitions,
        rates=rates,
        admins=(FLOODER, OTHER),
        storage=JsonMemoryStorage(),
        message_manager=manager,
    )
    bot = SlowBot()
    dispatcher = app.dispatcher
    flood = [asyncio.create_task(dispatcher.feed_update(bot, make())) for _ in range(200)]
    await asyncio.sleep(0)  # every flood update has reached the throttle
    started = asyncio.get_running_loop().time()
    await dispatcher.feed_update(bot, message_update(OTHER, "/admin_bot"))
    other_took = asyncio.get_running_loop().time() - started
    await asyncio.gather(*flood)
    assert len(too_fast(bot)) == 1
    # the other admin waited for a few Bot API calls of its own, not for the flooder's queue
    assert other_took < 0.1
    shown = [m for m in manager.sent_messages if m.chat.id == OTHER]
    assert shown and "Новый расчёт обмена" in (shown[0].text or "")
    await rates.close()


async def test_the_throttle_sits_in_front_of_the_fsm_lock(app) -> None:  # type: ignore[no-untyped-def]
    middlewares = list(app.dispatcher.update.outer_middleware)
    throttle = next(m for m in middlewares if isinstance(m, UserThrottle))
    assert middlewares.index(throttle) < middlewares.index(app.dispatcher.fsm)
    assert throttle.limit == DEFAULT_LIMIT


async def test_updates_within_the_limit_all_pass(definitions: Definitions) -> None:
    clock = Clock()
    throttle = UserThrottle(definitions.config, definitions.renderer, limit=3, clock=clock)
    gate = asyncio.Event()
    handled: list[int] = []

    async def handler(event: Any, data: dict[str, Any]) -> None:
        await gate.wait()
        handled.append(data["n"])

    def call(n: int, user_id: int = FLOODER) -> asyncio.Task[Any]:
        data = {"event_from_user": user(user_id), "n": n}
        return asyncio.create_task(throttle(handler, object(), data))  # type: ignore[arg-type]

    tasks = [call(n) for n in range(5)] + [call(9, OTHER)]
    await asyncio.sleep(0)
    assert throttle.pending(FLOODER) == 3 and throttle.pending(OTHER) == 1
    gate.set()
    await asyncio.gather(*tasks)
    assert sorted(handled) == [0, 1, 2, 9] and throttle.dropped == 2
    assert throttle.pending(FLOODER) == 0
    clock.now += 2.0  # the burst is over, and the flooder quiet: the next update passes
    await call(5)
    assert handled[-1] == 5


def test_a_limit_below_one_is_refused(definitions: Definitions) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1, not 0"):
        UserThrottle(definitions.config, definitions.renderer, limit=0)


def test_setup_keeps_the_order_of_the_others(definitions: Definitions, app) -> None:  # type: ignore[no-untyped-def]
    dispatcher = app.dispatcher
    before = [m for m in dispatcher.update.outer_middleware if not isinstance(m, UserThrottle)]
    extra = UserThrottle(definitions.config, definitions.renderer)
    setup_throttle(dispatcher, extra)
    after = list(dispatcher.update.outer_middleware)
    assert [m for m in after if not isinstance(m, UserThrottle)] == before
    assert after.index(extra) < after.index(dispatcher.fsm)


async def pass_through(event: Any, data: dict[str, Any]) -> None:
    return None


def from_user(user_id: int) -> dict[str, Any]:
    return {"event_from_user": user(user_id)}


async def test_a_fast_user_who_waits_for_each_answer_is_never_held_back(
    definitions: Definitions,
) -> None:
    """A script walking dialogs at full speed: 1 000 updates, each handled before the next."""
    throttle = UserThrottle(definitions.config, definitions.renderer, clock=Clock())
    for _ in range(1000):
        await throttle(pass_through, object(), from_user(FLOODER))  # type: ignore[arg-type]
    assert throttle.dropped == 0 and not throttle.flooding(FLOODER)
    assert not throttle.refuses_raw(FLOODER, 0)


async def test_a_flooder_gets_one_at_a_time_until_quiet(definitions: Definitions) -> None:
    clock = Clock()
    throttle = UserThrottle(definitions.config, definitions.renderer, limit=3, clock=clock)
    gate = asyncio.Event()

    async def held(event: Any, data: dict[str, Any]) -> None:
        await gate.wait()

    async def at_once(user_id: int, count: int) -> int:
        """``count`` updates of ``user_id`` queued at once; how many were dropped."""
        gate.clear()
        dropped = throttle.dropped
        tasks = [
            asyncio.create_task(throttle(held, object(), from_user(user_id)))  # type: ignore[arg-type]
            for _ in range(count)
        ]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)
        return throttle.dropped - dropped

    assert await at_once(FLOODER, 10) == 7 and throttle.flooding(FLOODER)
    # the flood is not over: one at a time, each drop keeping it going
    for _ in range(3):
        clock.now += 1.5
        assert await at_once(FLOODER, 3) == 2
    assert await at_once(OTHER, 3) == 0  # nobody else is touched
    # one at a time is not nothing: the flooder's next message, alone, is handled
    await throttle(pass_through, object(), from_user(FLOODER))  # type: ignore[arg-type]
    assert throttle.dropped == 13
    clock.now += 2.0  # quiet for DEFAULT_QUIET_SECONDS: the limit is back
    assert not throttle.flooding(FLOODER)
    assert await at_once(FLOODER, 3) == 0


async def test_the_raw_gate_drops_a_flooder_once_told(definitions: Definitions) -> None:
    clock = Clock()
    throttle = UserThrottle(definitions.config, definitions.renderer, limit=3, clock=clock)
    # a batch: limit + 1 pass the gate (the last for the notice), the rest are dropped
    assert [throttle.refuses_raw(FLOODER, earlier) for earlier in range(6)] == [
        False,
        False,
        False,
        False,
        True,
        True,
    ]
    assert throttle.flooding(FLOODER)
    # flooding but not told yet (the notice comes from __call__): two may reach it
    assert [throttle.refuses_raw(FLOODER, earlier) for earlier in range(3)] == [
        False,
        False,
        True,
    ]
    await throttle(pass_through, object(), from_user(FLOODER))  # type: ignore[arg-type]
    assert throttle.dropped == 0  # alone in the pipeline: handled, flooding or not
    throttle._noticed[FLOODER] = True
    # told: a batch holding more than one of theirs is the flood still arriving, all dropped
    assert [throttle.refuses_raw(FLOODER, earlier, 3) for earlier in range(3)] == [True] * 3
    # alone in its batch, it is the flood over: handled, if nothing else is in the pipeline
    assert not throttle.refuses_raw(FLOODER, 0, 1)
    assert not throttle.refuses_raw(OTHER, 3)
    clock.now += 2.0
    assert not throttle.refuses_raw(FLOODER, 2)
