"""A flooder's surplus in a getUpdates batch is dropped before it is parsed."""

from __future__ import annotations

import time
from typing import Any

from aiogram import Bot
from aiogram.methods import GetUpdates

from engine.bot.updates import SkippedUpdates, parse_updates

TOKEN = "42:" + "A" * 35


def tap(update_id: int, user_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "chat_instance": "1",
            "data": "x",
            "from": {"id": user_id, "is_bot": False, "first_name": "U"},
        },
    }


def text(update_id: int, user_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": "hi",
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "U"},
        },
    }


def test_the_gate_drops_a_flooders_surplus_unparsed_and_confirms_it() -> None:
    bot = Bot(TOKEN)
    skipped = SkippedUpdates()
    counted: list[str] = []
    skipped.count_with(lambda reason, count: counted.extend([reason] * count))
    limit = 3
    skipped.gate_with(lambda user, earlier, in_batch: earlier > limit)
    batch = [tap(i, 7) for i in range(1, 11)] + [text(11, 8), tap(12, 7)]
    updates = parse_updates(batch, bot, skipped)
    # the flooder's first limit + 1 (one left for the throttle to drop with its notice),
    # then the other user's message
    assert [u.update_id for u in updates] == [1, 2, 3, 4, 11]
    assert counted == ["throttled"] * 7
    method = GetUpdates(offset=12)
    skipped.confirm(bot, method)
    assert method.offset == 13  # the last dropped update is confirmed too


def test_without_a_gate_everything_is_parsed() -> None:
    updates = parse_updates([tap(i, 7) for i in range(1, 6)], Bot(TOKEN), SkippedUpdates())
    assert [u.update_id for u in updates] == [1, 2, 3, 4, 5]


def test_the_gate_is_told_how_many_of_the_user_the_batch_holds() -> None:
    calls: list[tuple[int, int, int]] = []
    skipped = SkippedUpdates()
    skipped.gate_with(
        lambda user, earlier, in_batch: bool(calls.append((user, earlier, in_batch)))
    )
    parse_updates([tap(1, 7), text(2, 8), tap(3, 7)], Bot(TOKEN), skipped)
    assert calls == [(7, 0, 2), (8, 0, 1), (7, 1, 2)]
