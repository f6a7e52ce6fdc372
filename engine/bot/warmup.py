"""Start-up tuning for latency, both measured by ``bench/`` (see bench/README.md).

* aiogram checks every API answer against ``Response[method.__returning__]``; pydantic keeps
  those generic classes only weakly, so about one call in three rebuilt one (9 % of the bot's
  CPU). Building them once and holding them keeps them cached.
* aiogram's models build on first use (:mod:`engine.lazy_aiogram`): the warm-up builds the
  ones the bot uses, the types nested most first so the others reuse their schemas (Message
  before the Update around it), so that no update pays for a build and ``gc.freeze()`` covers
  them; only the methods the bot calls get a pinned ``Response`` (all of them would build
  nearly every Bot API type again: +0.7 s, +30 MB).
* Importing aiogram and pydantic leaves ~220k long-lived objects that every full garbage
  collection walks again (135–200 ms pauses, the p99 of every step). ``gc.freeze()`` after
  start-up moves them out of the collector's sight. A reload replaces what was frozen with
  it (the first dispatcher, maybe the rate service): once they are no longer used,
  :func:`refreeze_heap` collects them and freezes what is alive then.

  Measured again for issue 14 (the dispatcher as ``bench.inprocess`` wires it, imported
  through :mod:`engine.lazy_aiogram` as ``crypto-helper run`` does, 4 000 ``/admin_bot``
  in-process): 182k objects tracked after start-up, a full collection 53 ms at rest; the
  run's full collections took up to 136 ms without the freeze (one admin's step stalled that
  long), 31 ms with it, and CPU per update went 407 → 368 µs. (Eager aiogram: 266k objects,
  213 → 75 ms.) Public and documented in the standard library, two calls: kept. What the
  reload relies on (frozen garbage waits for :func:`refreeze_heap`) is checked in
  ``tests/engine/test_private_api_contracts.py``.
"""

from __future__ import annotations

import gc
from typing import Any

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import CallbackQuery, ChosenInlineResult, InlineQuery, Message, Update
from pydantic import BaseModel

# The Bot API methods the bot calls: engine/, aiogram's polling and aiogram-dialog's message
# manager (the fake Bot API of tests/e2e answers exactly these, and close/logOut).
CALLED_METHODS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.GetMe,
    methods.GetUpdates,
    methods.DeleteWebhook,
    methods.SetWebhook,
    methods.SetMyCommands,
    methods.SendMessage,
    methods.SendDocument,
    methods.EditMessageText,
    methods.EditMessageReplyMarkup,
    methods.DeleteMessage,
    methods.AnswerCallbackQuery,
    methods.AnswerInlineQuery,
)
# The types of the updates the bot reads, the nested before the ones around them.
RECEIVED_TYPES: tuple[type[BaseModel], ...] = (
    Message,
    CallbackQuery,
    InlineQuery,
    ChosenInlineResult,
    Update,
)


def pin_response_models() -> list[type]:
    """Build the models the bot uses (:data:`RECEIVED_TYPES`, :data:`CALLED_METHODS`) and
    ``Response[T]`` for each method it calls; keep the list alive while serving."""
    for model in (*RECEIVED_TYPES, *CALLED_METHODS):
        model.model_rebuild()  # a no-op for a model built already
    returning = {method.__returning__ for method in CALLED_METHODS}
    return [Response[r] for r in returning]  # type: ignore[valid-type]


def freeze_heap() -> None:
    """Exempt everything alive now from future collections, the young generations collected
    first. Not a full collection: at start-up one found nothing to free (0 of 179k tracked
    objects, 70 ms of the start), the automatic collections having just run."""
    gc.collect(1)
    gc.freeze()


def refreeze_heap() -> None:
    """Let the collector see the frozen objects again, collect them all, freeze again: what
    a reload replaced is freed, once (a full collection: a pause of the size the freeze
    avoids on every step)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
