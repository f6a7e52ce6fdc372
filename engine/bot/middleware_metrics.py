"""Count and time every update, by type, outcome and the dialog step it arrived at.

Two middlewares cooperate, because the step is known only deep inside the dispatcher:

* :class:`MetricsMiddleware` (outer, on ``dp.update``) times the whole handling and records
  the outcome. It sees the aiogram FSM state (``raw_state``), but aiogram-dialog keeps its
  own state elsewhere, so it also leaves a :class:`StepProbe` in the handler data;
* :class:`DialogStepMiddleware` (inner, on ``message`` and ``callback_query``) runs after
  aiogram-dialog has loaded the dialog context and writes its state into the probe. The
  data dict is copied on the way down, the probe object is shared, so the outer middleware
  reads the step after the handler returns. No storage access: the context is loaded anyway.

:func:`setup_metrics_middleware` registers both; call it after ``setup_dialogs``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from aiogram_dialog import DialogManager

from engine.metrics import BotMetrics, Outcome

PROBE_KEY = "metrics_step"

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class StepProbe:
    """The state an update arrived in, filled in on the way down."""

    __slots__ = ("state",)

    def __init__(self, state: str | None = None) -> None:
        self.state = state


def update_type(event: TelegramObject) -> str:
    """``message``, ``callback_query``…; ``unknown`` for an update of a type aiogram lacks."""
    if isinstance(event, Update):
        try:
            return event.event_type
        except LookupError:  # UpdateTypeLookupError: a type newer than this aiogram
            return "unknown"
    return type(event).__name__.lower()


class MetricsMiddleware(BaseMiddleware):
    """Outer update middleware: counts updates and observes their handling time.

    Args:
        metrics: where to record.
        clock: seconds for durations (``time.perf_counter``).

    An exception from the handler is recorded as outcome ``error`` and re-raised unchanged
    (the error handlers run outside). A cancelled update is not recorded.
    """

    def __init__(
        self, metrics: BotMetrics, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self._metrics = metrics
        self._clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        raw_state = data.get("raw_state")
        probe = data[PROBE_KEY] = StepProbe(raw_state if isinstance(raw_state, str) else None)
        kind = update_type(event)
        started = self._clock()
        try:
            result = await handler(event, data)
        except Exception:
            self._record(kind, "error", started, probe)
            raise
        self._record(kind, "unhandled" if result is UNHANDLED else "ok", started, probe)
        return result

    def _record(self, kind: str, outcome: Outcome, started: float, probe: StepProbe) -> None:
        self._metrics.observe_update(kind, outcome, self._clock() - started, probe.state)


class DialogStepMiddleware(BaseMiddleware):
    """Inner middleware: puts the open dialog's state into the outer middleware's probe.

    Without an open dialog, or outside :class:`MetricsMiddleware`, it does nothing.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        probe = data.get(PROBE_KEY)
        manager: DialogManager | None = data.get("dialog_manager")
        if isinstance(probe, StepProbe) and manager is not None and manager.has_context():
            probe.state = manager.current_context().state.state
        return await handler(event, data)


def setup_metrics_middleware(dispatcher: Dispatcher, metrics: BotMetrics) -> None:
    """Count and time every update the dispatcher receives.

    Call after ``setup_dialogs(dispatcher)``: the step middleware must run after
    aiogram-dialog's own inner middleware has put the dialog manager in the data.
    """
    dispatcher.update.outer_middleware(MetricsMiddleware(metrics))
    step = DialogStepMiddleware()
    dispatcher.message.middleware(step)
    dispatcher.callback_query.middleware(step)
