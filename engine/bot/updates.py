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
* ``malformed``: not an update at all (no ``update_id``; a webhook body that is not JSON);
* ``throttled``: a flooding user's update dropped before it is even parsed (see
  :meth:`SkippedUpdates.gate_with`): one admin's 5 000 queued taps then cost a dictionary
  lookup each, not a pydantic model each, and the other admins' updates behind them
  arrive sooner. Counted, not logged one by one (the throttle logs the flood once).

Polling must still confirm a skipped update, or Telegram sends it again: aiogram moves
``GetUpdates.offset`` past each update it yields, so a skipped update at the end of a
batch would stay unconfirmed. :meth:`SkippedUpdates.confirm` moves the offset past the
highest id skipped before the next ``getUpdates`` (see :mod:`engine.bot.session`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal

from aiogram import Bot, __version__
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger(__name__)

SkipReason = Literal["invalid", "malformed", "throttled"]
# Decides, before parsing, whether a raw update of a user is dropped: (user id, how many of
# that user's updates came earlier in the same batch, how many the batch holds) → drop?
RawGate = Callable[[int, int, int], bool]
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
        self._counters: list[Callable[[SkipReason, int], None]] = []
        self._highest: dict[int, int] = {}  # bot id → the highest update id skipped
        self.gate: RawGate | None = None

    def gate_with(self, gate: RawGate) -> None:
        """Drop, unparsed, the raw updates ``gate(user_id, earlier_in_batch, in_batch)``
        refuses."""
        self.gate = gate

    def count_with(self, counter: Callable[[SkipReason, int], None]) -> None:
        """Call ``counter(reason, how_many)`` for the updates skipped from now on."""
        self._counters.append(counter)

    def record(
        self,
        bot: Bot | None,
        update_id: int | None,
        reason: SkipReason,
        why: str | None,
        *,
        count: int = 1,
    ) -> None:
        """Log (unless ``why`` is None) and count ``count`` skipped updates, ``update_id``
        the highest of them; remember it for :meth:`confirm`."""
        if why is not None:
            if update_id is None:
                log.warning("update skipped (%s): %s", reason, why)
            else:
                log.warning("update %d skipped (%s): %s", update_id, reason, why)
        if update_id is not None and bot is not None:
            self._highest[bot.id] = max(update_id, self._highest.get(bot.id, update_id))
        for counter in self._counters:
            counter(reason, count)

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


def sender_id(raw: dict[str, Any]) -> int | None:
    """The id of the user who sent a raw update (``from.id`` of its part), if any."""
    part = raw.get(update_type(raw))
    sender = part.get("from") if isinstance(part, dict) else None
    user_id = sender.get("id") if isinstance(sender, dict) else None
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None


def parse_updates(raw: Iterable[object], bot: Bot, skipped: SkippedUpdates) -> list[Update]:
    """The updates of a ``getUpdates`` answer that aiogram can read, in order; those the
    gate refuses are dropped before parsing.

    A flood is a hundred updates per answer, nearly all dropped: the gate's loop is the
    hot path of one, so the drops are tallied and recorded once per answer.
    """
    updates: list[Update] = []
    gate = skipped.gate
    items = list(raw)
    senders = [sender_id(item) if isinstance(item, dict) else None for item in items]
    in_batch = Counter(senders) if gate is not None else Counter()
    seen: dict[int, int] = {}
    dropped, highest_dropped = 0, -1
    for item, user_id in zip(items, senders, strict=True):
        if gate is not None and user_id is not None and isinstance(item, dict):
            earlier = seen.get(user_id, 0)
            seen[user_id] = earlier + 1
            update_id = item.get("update_id")
            if isinstance(update_id, int) and gate(user_id, earlier, in_batch[user_id]):
                dropped += 1
                highest_dropped = max(highest_dropped, update_id)
                continue
        update = parse_update(item, bot, skipped)
        if update is not None:
            updates.append(update)
    if dropped:
        skipped.record(bot, highest_dropped, "throttled", None, count=dropped)
    return updates
