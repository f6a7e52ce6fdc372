"""Updates read one by one: one that aiogram's models reject is skipped, never the batch.

Telegram adds update parts with every Bot API release (a new ``forward_origin.type``, a
new message kind), and an aiogram that does not know one rejects the whole update. Parsed
as aiogram parses them, the whole ``getUpdates`` answer would fail, its offset would never
move, and Telegram would offer the same batch for 24 hours: nobody answered. Here each
update is validated on its own (``Update.model_validate`` with the bot in the context, as
aiogram does); one that fails is logged once at WARNING (its id, its type, where and why
the model refused it, never the values), counted in ``updates_skipped_total{reason}`` and
dropped; the others are served.

Reasons:

* ``invalid``: an update (it has an ``update_id``) that aiogram's models reject;
* ``malformed``: not an update at all (no ``update_id``; a webhook body that is not JSON).

Polling must still confirm a skipped update, or Telegram sends it again: aiogram moves
``GetUpdates.offset`` past each update it yields, so a skipped update at the end of a
batch would stay unconfirmed. :meth:`SkippedUpdates.confirm` moves the offset past the
highest id skipped before the next ``getUpdates`` (see :mod:`engine.bot.session`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Literal

from aiogram import Bot, __version__
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger(__name__)

SkipReason = Literal["invalid", "malformed"]
# Enough to say where the model refused an update; a long list is noise in a log line.
MAX_ERRORS_SHOWN = 3


def describe(error: ValidationError) -> str:
    """Where and why the model refused an update, without the values it held.

    ``str(error)`` quotes the input (a user's text, names); this keeps the location, the
    error type and, for an unknown discriminator, the tag Telegram sent (``'future_kind'``):
    a type name, not user data.
    """
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:MAX_ERRORS_SHOWN]:
        where = ".".join(str(p) for p in item["loc"]) or "update"
        part = f"{where}: {item['type']}"
        tag = (item.get("ctx") or {}).get("tag")
        if item["type"] == "union_tag_invalid" and isinstance(tag, str):
            part += f" (tag {tag[:40]!r})"
        parts.append(part)
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def update_type(raw: dict[str, Any]) -> str:
    """The update's part (``message``, ``callback_query``…), or ``unknown``."""
    return next((key for key in raw if key != "update_id"), "unknown")


class SkippedUpdates:
    """Records skipped updates: one WARNING each, a count by reason, the highest id per bot.

    Counters (``BotMetrics.count_skipped_update``) join with :meth:`count_with`, since the
    Bot API session that skips updates exists before the metrics do.
    """

    def __init__(self) -> None:
        self._counters: list[Callable[[SkipReason], None]] = []
        self._highest: dict[int, int] = {}  # bot id → the highest update id skipped

    def count_with(self, counter: Callable[[SkipReason], None]) -> None:
        """Call ``counter(reason)`` for every update skipped from now on."""
        self._counters.append(counter)

    def record(self, bot: Bot | None, update_id: int | None, reason: SkipReason, why: str) -> None:
        """Log and count one skipped update; remember its id for :meth:`confirm`."""
        if update_id is None:
            log.warning("update skipped (%s): %s", reason, why)
        else:
            log.warning("update %d skipped (%s): %s", update_id, reason, why)
            if bot is not None:
                self._highest[bot.id] = max(update_id, self._highest.get(bot.id, update_id))
        for counter in self._counters:
            counter(reason)

    def highest(self, bot: Bot) -> int | None:
        """The highest update id skipped for ``bot``, if any."""
        return self._highest.get(bot.id)

    def confirm(self, bot: Bot, method: GetUpdates) -> None:
        """Move ``method.offset`` past every update skipped for ``bot``.

        aiogram sets the offset from the last update it yielded; a skipped update after it
        (or a batch of skipped updates only) would be offered again forever. Mutates the
        method aiogram polls with, as aiogram itself does after each update.
        """
        highest = self._highest.get(bot.id)
        if highest is not None and (method.offset is None or method.offset <= highest):
            method.offset = highest + 1


def parse_update(raw: object, bot: Bot, skipped: SkippedUpdates) -> Update | None:
    """One update as aiogram would parse it, or None (recorded in ``skipped``)."""
    update_id = raw.get("update_id") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(update_id, int):
        skipped.record(bot, None, "malformed", "not a Telegram update (no integer update_id)")
        return None
    try:
        return Update.model_validate(raw, context={"bot": bot})
    except ValidationError as exc:
        why = f"aiogram {__version__} cannot read this {update_type(raw)}: {describe(exc)}"
        skipped.record(bot, update_id, "invalid", why)
        return None


def parse_updates(raw: Iterable[object], bot: Bot, skipped: SkippedUpdates) -> list[Update]:
    """The updates of a ``getUpdates`` answer that aiogram can read, in order."""
    return [update for item in raw if (update := parse_update(item, bot, skipped)) is not None]
