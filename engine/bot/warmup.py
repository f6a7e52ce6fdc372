"""Start-up tuning for latency, both measured by ``bench/`` (see bench/README.md).

* aiogram checks every API answer against ``Response[method.__returning__]``; pydantic keeps
  those generic classes only weakly, so about one call in three rebuilt one (9 % of the bot's
  CPU). Building them once and holding them keeps them cached.
* Importing aiogram and pydantic leaves ~220k long-lived objects that every full garbage
  collection walks again (135–200 ms pauses, the p99 of every step). ``gc.freeze()`` after
  start-up moves them out of the collector's sight. A reload replaces what was frozen with
  it (the first dispatcher, maybe the rate service): once they are no longer used,
  :func:`refreeze_heap` collects them and freezes what is alive then.
"""

from __future__ import annotations

import gc

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod


def pin_response_models() -> list[type]:
    """Build ``Response[T]`` for every Bot API method; keep the list alive while serving."""
    returning = {
        cls.__returning__
        for cls in vars(methods).values()
        if isinstance(cls, type) and issubclass(cls, TelegramMethod) and cls is not TelegramMethod
    }
    return [Response[r] for r in returning]  # type: ignore[valid-type]


def freeze_heap() -> None:
    """Collect once, then exempt everything alive now from future collections."""
    gc.collect()
    gc.freeze()


def refreeze_heap() -> None:
    """Let the collector see the frozen objects again, collect, freeze again: what a reload
    replaced is freed, once (a full collection: a pause of the size :func:`freeze_heap`
    avoids on every step)."""
    gc.unfreeze()
    freeze_heap()
