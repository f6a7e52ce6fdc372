"""Every window of a config, rendered as a stable text for snapshot tests.

What ``crypto-helper check`` renders (every window × locale × direction, every input error,
the error and cancel cards, the bot's own messages), from the offline ``static`` rates and
a clock that never moves, so a quote's age is always 0, and with one quote number and one
quote time (:data:`QUOTE_NUMBER`, :data:`QUOTE_TIME`) instead of fresh random ones. Each
window becomes its text and then one line per keyboard row, ``[label |
<intent>:callback_data]`` — the button data as Telegram gets it, with aiogram-dialog's
random intent id in front masked — and clock times and dates in the text are masked too
(``<time>``, ``<date>``), so a snapshot changes only when what an admin sees changes.

The pytest fixtures are in :mod:`engine.testing.plugin`; the project's own dialog tests
mask the messages they record with :func:`message_screen`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
from collections.abc import Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.check import screen_problems, string_problems
from engine.definitions import Definitions, load_definitions
from engine.errors import ConfigError, EngineError, Problem
from engine.flow.services import FlowServices, QuoteIdentity
from engine.preview import PreviewResult, Screen, preview_all, select_screens
from engine.rates.offline import create_offline_rates

if TYPE_CHECKING:  # only the type: aiogram is imported by whoever has a Message already
    from aiogram.types import Message

INTENT = "<intent>"
#: What every card of a snapshot shows as its quote's number and time.
QUOTE_NUMBER = "000000"
QUOTE_TIME = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
#: Both, as the flow's actions take them (tests give it to the dispatchers they build).
FIXED_IDENTITY = QuoteIdentity(clock=lambda: QUOTE_TIME, number=lambda: QUOTE_NUMBER)
# aiogram-dialog's separator between the intent id and a button's own data
# (aiogram_dialog.utils.CB_SEP; a test keeps the two equal).
INTENT_SEPARATOR = "\x1d"

_MASKS = (
    # 2025-12-01T10:32:05.123+03:00, 2025-12-01 10:32
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        "<datetime>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),  # 2025-12-01
    (re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{4}\b"), "<date>"),  # 01.12.2025, 12/01/2025
    (re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\b"), "<time>"),  # 10:32, 9:05:59
)


class SnapshotConfigError(EngineError):
    """The config cannot be rendered: its message is what ``crypto-helper check`` says."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = [str(p) for p in self.problems]
        super().__init__("\n".join([*lines, f"{len(lines)} problem(s) found."]))


def mask_times(text: str) -> str:
    """``text`` with clock times and dates replaced by ``<time>``, ``<date>``, ``<datetime>``."""
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text


def mask_intent(callback_data: str) -> str:
    """A button's data with aiogram-dialog's intent id in front shown as ``<intent>:``;
    data without one (a button of no dialog) as it is."""
    intent, separator, own = callback_data.partition(INTENT_SEPARATOR)
    return f"{INTENT}:{own}" if separator else intent


def keyboard_lines(rows: Iterable[Iterable[tuple[str, str | None]]]) -> list[str]:
    """One line per row of ``(label, callback_data)`` buttons: ``[label | <intent>:data]``;
    a button without data (a URL) shows its label only."""
    return [
        "  ".join(
            f"[{label} | {mask_intent(data)}]" if data is not None else f"[{label}]"
            for label, data in row
        )
        for row in rows
    ]


def screen_text(
    text: str, rows: Iterable[Iterable[tuple[str, str | None]]], *, times: bool = True
) -> str:
    """A window as a snapshot holds it: text (times masked unless ``times`` is False), then
    its keyboard."""
    return "\n".join([mask_times(text) if times else text, *keyboard_lines(rows)])


def message_screen(message: Message) -> str:
    """A message the bot sent (aiogram), as :func:`screen_text` shows a window."""
    markup = message.reply_markup
    rows = getattr(markup, "inline_keyboard", None) or []
    buttons = [[(b.text, b.callback_data) for b in row] for row in rows]
    return screen_text(message.text or "", buttons)


def window_name(screen: Screen) -> str:
    """``exchange.result [en] RUB→USDT``: a window's flow, step, locale and case."""
    return f"{screen.flow}.{screen.step} [{screen.locale}] {screen.case}".rstrip()


def render_screens(config_path: str | os.PathLike[str]) -> list[Screen]:
    """Every window of the config at ``config_path``, rendered as ``check`` renders them.

    Raises:
        SnapshotConfigError: the problems ``check`` reports (its warnings do not count).
    """
    try:
        defs = load_definitions(config_path)
    except ConfigError as exc:
        raise SnapshotConfigError(exc.problems) from None
    result = _run(_preview(defs))
    problems = [
        *result.problems,
        *screen_problems(defs, result.screens),
        *string_problems(defs),
    ]
    errors = sorted({p for p in problems if not p.warning})
    if errors:
        raise SnapshotConfigError(errors)
    return result.screens


def render_windows(
    config_path: str | os.PathLike[str],
    *,
    locale: str | None = None,
    step: str | None = None,
    case: str | None = None,
    mask_times: bool = True,
) -> dict[str, str]:
    """``{window name: text and keyboard}`` for every window of the config, or those of
    ``locale``, ``step`` and ``case`` (as ``crypto-helper preview`` chooses them).
    ``mask_times=False`` keeps times and dates written in the templates as they are.

    Raises:
        SnapshotConfigError: the config has problems (as ``check`` says them).
        PreviewSelectionError: a filter matches no window.
    """
    screens = select_screens(render_screens(config_path), locale=locale, step=step, case=case)
    return {
        window_name(s): screen_text(s.text, _as_sent(s.keyboard), times=mask_times)
        for s in screens
    }


def _as_sent(rows: Iterable[Iterable[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """The preview's buttons with an intent in front of their data, as the dialog sends
    them (every button of a window belongs to its dialog)."""
    return [[(label, f"{INTENT}{INTENT_SEPARATOR}{data}") for label, data in row] for row in rows]


async def _preview(defs: Definitions) -> PreviewResult:
    rates = create_offline_rates(defs.config, clock=lambda: 0.0)
    try:
        return await preview_all(defs, FlowServices(rates, identity=FIXED_IDENTITY))
    finally:
        await rates.close()


def _run(coroutine: Coroutine[Any, Any, PreviewResult]) -> PreviewResult:
    """Run the preview to its end, also from a test that is itself a coroutine (an event
    loop already runs in this thread: the preview gets a thread and a loop of its own)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # a provider failing in the preview is not news here
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, coroutine).result()
    finally:
        logging.disable(previous)
