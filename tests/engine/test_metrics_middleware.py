"""MetricsMiddleware: counts updates by type and outcome, times them by step, re-raises."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from aiogram_dialog.test_tools import BotClient, MockMessageManager
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from aiogram_dialog.test_tools.memory_storage import JsonMemoryStorage
from prometheus_client.parser import text_string_to_metric_families

from engine.app import create_dispatcher
from engine.bot.middleware_metrics import (
    PROBE_KEY,
    DialogStepMiddleware,
    MetricsMiddleware,
    update_type,
)
from engine.definitions import load_definitions
from engine.metrics import BotMetrics
from engine.rates.offline import create_offline_rates

ROOT = Path(__file__).resolve().parents[2]

USER = {"id": 7, "is_bot": False, "first_name": "Admin"}
CHAT = {"id": 7, "type": "private"}
MESSAGE = {"message_id": 1, "date": 0, "chat": CHAT, "from": USER, "text": "1000"}


def message_update() -> Update:
    return Update.model_validate({"update_id": 1, "message": MESSAGE})


def callback_update() -> Update:
    return Update.model_validate(
        {
            "update_id": 2,
            "callback_query": {
                "id": "c1",
                "from": USER,
                "chat_instance": "x",
                "data": "d",
                "message": MESSAGE,
            },
        }
    )


class Clock:
    """Each reading is 0.25 s after the previous one."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def counts(metrics: BotMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) → value, for the update and step samples."""
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(
            ("crypto_helper_updates_total", "crypto_helper_step_duration_seconds_")
        )
    }


def updates(metrics: BotMetrics) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["type"], dict(labels)["outcome"]): v
        for (name, labels), v in counts(metrics).items()
        if name == "crypto_helper_updates_total"
    }


def steps(metrics: BotMetrics) -> dict[tuple[str, str], tuple[float, float]]:
    """(flow, step) → (count, sum)."""
    found: dict[tuple[str, str], list[float]] = {}
    for (name, labels), v in counts(metrics).items():
        d = dict(labels)
        if name.endswith(("_count", "_sum")):
            entry = found.setdefault((d["flow"], d["step"]), [0.0, 0.0])
            entry[0 if name.endswith("_count") else 1] = v
    return {k: (c, s) for k, (c, s) in found.items()}


def test_update_type() -> None:
    assert update_type(message_update()) == "message"
    assert update_type(callback_update()) == "callback_query"
    assert update_type(Update(update_id=3)) == "unknown"


async def test_a_handled_update_is_counted_ok_and_timed_by_its_state() -> None:
    metrics = BotMetrics(process=False)
    middleware = MetricsMiddleware(metrics, clock=Clock())

    async def handler(event: TelegramObject, data: dict[str, Any]) -> str:
        return "done"

    result = await middleware(handler, message_update(), {"raw_state": "exchange:amount"})
    assert result == "done"
    assert updates(metrics) == {("message", "ok"): 1}
    assert steps(metrics) == {("exchange", "amount"): (1, 0.25)}


async def test_a_failing_handler_is_counted_as_error_and_the_exception_propagates() -> None:
    metrics = BotMetrics(process=False)
    middleware = MetricsMiddleware(metrics, clock=Clock())
    boom = RuntimeError("boom")

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        raise boom

    with pytest.raises(RuntimeError) as caught:
        await middleware(handler, callback_update(), {"raw_state": None})
    assert caught.value is boom
    assert updates(metrics) == {("callback_query", "error"): 1}
    assert steps(metrics) == {("none", "none"): (1, 0.25)}


async def test_an_update_nobody_handles_is_counted_unhandled() -> None:
    metrics = BotMetrics(process=False)

    async def handler(event: TelegramObject, data: dict[str, Any]) -> object:
        return UNHANDLED

    assert await MetricsMiddleware(metrics)(handler, message_update(), {}) is UNHANDLED
    assert updates(metrics) == {("message", "unhandled"): 1}


async def test_a_cancelled_update_propagates_and_is_not_counted() -> None:
    metrics = BotMetrics(process=False)

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await MetricsMiddleware(metrics)(handler, message_update(), {})
    assert updates(metrics) == {}


class FakeContext:
    class state:  # mimics aiogram's State, whose ``.state`` is the name
        state = "exchange:margin"


class FakeManager:
    def __init__(self, open_dialog: bool) -> None:
        self.open_dialog = open_dialog

    def has_context(self) -> bool:
        return self.open_dialog

    def current_context(self) -> FakeContext:
        return FakeContext()


@pytest.mark.parametrize(
    ("open_dialog", "step"), [(True, ("exchange", "margin")), (False, ("none", "none"))]
)
async def test_the_dialog_step_comes_from_the_inner_middleware(
    open_dialog: bool, step: tuple[str, str]
) -> None:
    metrics = BotMetrics(process=False)
    inner = DialogStepMiddleware()

    async def handler(event: TelegramObject, data: dict[str, Any]) -> str:
        return "done"

    async def dispatch(event: TelegramObject, data: dict[str, Any]) -> Any:
        # aiogram copies the data dict on its way to the event observers
        copied = {**data, "dialog_manager": FakeManager(open_dialog)}
        return await inner(handler, event, copied)

    await MetricsMiddleware(metrics, clock=Clock())(dispatch, message_update(), {})
    assert steps(metrics) == {step: (1, 0.25)}


async def test_the_inner_middleware_alone_does_nothing() -> None:
    async def handler(event: TelegramObject, data: dict[str, Any]) -> dict[str, Any]:
        return data

    data = await DialogStepMiddleware()(
        handler, message_update(), {"dialog_manager": FakeManager(True)}
    )
    assert PROBE_KEY not in data


async def test_the_real_dispatcher_reports_dialog_steps() -> None:
    defs = load_definitions(ROOT / "config.yaml")
    rates = create_offline_rates(defs.config)
    manager = MockMessageManager()
    metrics = BotMetrics(process=False)
    app = create_dispatcher(
        defs,
        rates=rates,
        admins=[1],
        metrics=metrics,  # as crypto-helper run wires it: the middleware after the dialogs
        storage=JsonMemoryStorage(),
        message_manager=manager,
    )
    client = BotClient(app.dispatcher)

    await client.send("/start")  # no dialog open yet
    await client.click(manager.last_message(), InlineButtonTextLocator(".* RUB"))  # at source
    await client.click(manager.last_message(), InlineButtonTextLocator(".* USDT"))  # at target
    await client.send("2")  # at margin
    await client.send("/start")  # at amount
    await rates.close()

    assert updates(metrics) == {("message", "ok"): 3, ("callback_query", "ok"): 2}
    assert {k: c for k, (c, _) in steps(metrics).items()} == {
        ("none", "none"): 1,
        ("exchange", "source"): 1,
        ("exchange", "target"): 1,
        ("exchange", "margin"): 1,
        ("exchange", "amount"): 1,
    }
