"""Reloading a running bot: the real dispatcher behind the update feed, the real check."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from aiogram_dialog.test_tools.keyboard import InlineButtonTextLocator
from reload_helpers import edit, running_bot

from engine.check import run_check

pytestmark = pytest.mark.slow  # each builds the bot, edits its files and reloads it: a second each

SOURCE = "Какую валюту отдаёт клиент?"
TARGET = "Какую валюту клиент получает?"
MARGIN = "Введите наценку"
RESTARTED = "Бот был перезапущен — начинаем расчёт заново."


async def test_a_changed_template_applies_to_the_next_reply(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.client.send("/admin_bot")
        assert SOURCE in bot.last_text()
        before = bot.reloader.loaded.fingerprint
        edit(bot.file("templates/ru/source.j2"), SOURCE, "Что клиент приносит?")
        result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "applied" and result.ok
        assert result.problems == () and result.restart_needed == ()
        assert result.running == bot.reloader.loaded.fingerprint != before
        await bot.client.send("/admin_bot")
        assert "Что клиент приносит?" in bot.last_text()


async def test_a_dialog_in_progress_continues_on_the_new_set(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.client.send("/admin_bot")
        window = bot.manager.last_message()
        edit(bot.file("templates/ru/target.j2"), TARGET, "А получает что?")
        assert (await bot.reloader.reload("SIGHUP")).outcome == "applied"
        # the button of the window shown before the reload: the same dialog goes on
        await bot.client.click(window, InlineButtonTextLocator(".* RUB"))
        assert "А получает что?" in bot.last_text()
        assert [a.text for a in bot.telegram.answers() if a.text] == []  # no restart notice
        await bot.client.click(bot.manager.last_message(), InlineButtonTextLocator(".* USDT"))
        assert MARGIN in bot.last_text()


async def test_validation_failure_keeps_the_old_set_and_logs_what_check_prints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # paths are shown from where the bot runs, as check shows them
    async with running_bot(tmp_path) as bot:
        serving = bot.switchboard.current
        loaded = bot.reloader.loaded
        edit(bot.file("templates/ru/source.j2"), SOURCE, "{{ oops")
        check = run_check(str(bot.config))  # what `crypto-helper check` prints
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="engine.reload"):
            result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "failed" and not result.ok
        assert result.problems == tuple(str(p) for p in check.problems)
        assert result.problems == (
            "templates/ru/source.j2:3:1: template syntax error: a {{ … }} here is not "
            "closed, or has something odd inside",
        )
        assert bot.switchboard.current is serving and bot.reloader.loaded == loaded
        records = [r for r in caplog.records if r.name.startswith("engine.reload")]
        assert [(r.levelno, r.getMessage()) for r in records[:-1]] == [
            (logging.ERROR, line) for line in result.problems
        ]
        summary = records[-1].getMessage()
        assert records[-1].levelno == logging.ERROR
        assert summary.startswith(
            f"reload (SIGHUP): 1 problem(s) found; still serving set {loaded.fingerprint}"
        )
        await bot.client.send("/admin_bot")
        assert SOURCE in bot.last_text()  # the old text
        # the same files again: the same failure, said again
        again = await bot.reloader.reload("crypto-helper reload")
        assert again.outcome == "failed" and again.problems == result.problems
        assert again.trigger == "crypto-helper reload"
        # fixed: applied
        edit(bot.file("templates/ru/source.j2"), "{{ oops", "Исправлено")
        assert (await bot.reloader.reload("SIGHUP")).outcome == "applied"
        await bot.client.send("/admin_bot")
        assert "Исправлено" in bot.last_text()


async def test_the_check_warnings_are_logged_and_do_not_fail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path) as bot:
        # a step no path reaches is a warning of check, not an error
        edit(
            bot.file("flows/exchange.yaml"),
            "  cancelled:\n    kind: card\n",
            "  orphan:\n    kind: card\n    template: cancelled\n    buttons: [new_deal]\n\n"
            "  cancelled:\n    kind: card\n    back: orphan\n",
        )
        with caplog.at_level(logging.WARNING, logger="engine.reload"):
            result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "applied"
        assert len(result.warnings) == 1 and "warning:" in result.warnings[0]
        assert "orphan" in result.warnings[0]
        assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
            result.warnings[0]
        ]


async def test_nothing_new_is_nothing_to_do(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        serving = bot.switchboard.current
        result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "unchanged" and result.ok
        assert result.tried == result.running == bot.reloader.loaded.fingerprint
        assert bot.switchboard.current is serving
        # an editor's swap file is no change either
        bot.file("templates/ru/.source.j2.swp").write_text("x", encoding="utf-8")
        bot.file("templates/ru/source.j2~").write_text("x", encoding="utf-8")
        assert (await bot.reloader.reload("SIGHUP")).outcome == "unchanged"


async def test_a_vanished_step_restarts_the_dialog_politely(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.client.send("/admin_bot")
        await bot.client.click(bot.manager.last_message(), InlineButtonTextLocator(".* RUB"))
        target_window = bot.manager.last_message()
        assert TARGET in target_window.text
        # `target` renamed `receive`: the stack in storage names a state that is gone
        flow = bot.file("flows/exchange.yaml")
        edit(flow, "    next: target\n", "    next: receive\n")
        edit(
            flow,
            "  target:\n    kind: choice\n",
            "  receive:\n    kind: choice\n    template: target\n",
        )
        result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "applied", result
        callback = await bot.client.click(target_window, InlineButtonTextLocator(".* USDT"))
        [answer] = [a for a in bot.telegram.answers() if a.callback_query_id == callback]
        assert answer.text == RESTARTED
        assert SOURCE in bot.last_text()  # the flow starts again, in a new message
        # and the new dialog works through the renamed step
        await bot.client.click(bot.manager.last_message(), InlineButtonTextLocator(".* RUB"))
        await bot.client.click(bot.manager.last_message(), InlineButtonTextLocator(".* USDT"))
        assert MARGIN in bot.last_text()


async def test_typing_into_a_vanished_input_step_starts_over(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.client.send("/admin_bot")
        await bot.client.click(bot.manager.last_message(), InlineButtonTextLocator(".* RUB"))
        await bot.client.click(bot.manager.last_message(), InlineButtonTextLocator(".* USDT"))
        assert MARGIN in bot.last_text()
        flow = bot.file("flows/exchange.yaml")
        edit(flow, "    next: margin\n", "    next: markup\n")
        edit(flow, "{goto: margin}", "{goto: markup}")
        edit(
            flow,
            "  margin:\n    kind: input\n",
            "  markup:\n    kind: input\n    template: margin\n",
        )
        assert (await bot.reloader.reload("SIGHUP")).outcome == "applied"
        await bot.client.send("2")
        assert SOURCE in bot.last_text()


async def test_a_restart_only_setting_is_reported_not_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path) as bot:
        config = bot.file("config.yaml")
        edit(config, "  backend: memory ", "  backend: redis ")
        edit(bot.file("templates/ru/source.j2"), SOURCE, "Новый текст")
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("mode: polling", "mode: webhook", 1), encoding="utf-8")
        with caplog.at_level(logging.WARNING, logger="engine.reload"):
            result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "applied"
        assert result.restart_needed == (
            "storage.backend (memory → redis)",
            "bot.mode (polling → webhook)",
        )
        assert [r.getMessage() for r in caplog.records] == [
            "reload (SIGHUP): storage.backend (memory → redis): restart needed to apply it; "
            "until then it stays as it runs",
            "reload (SIGHUP): bot.mode (polling → webhook): restart needed to apply it; "
            "until then it stays as it runs",
        ]
        serving = bot.serving.config
        assert serving.storage.backend == "memory" and serving.bot.mode == "polling"
        await bot.client.send("/admin_bot")
        assert "Новый текст" in bot.last_text()  # the rest is applied


async def test_a_rate_side_change_gets_a_new_rate_service(tmp_path: Path) -> None:
    async with running_bot(tmp_path, language="en") as bot:
        first = bot.switchboard.current.parts.rates
        await bot.client.send("/rates")
        assert "1 USDT = <b>85.30 RUB</b>" in bot.telegram.sent()[-1].text
        edit(bot.file("config.yaml"), 'USDT/RUB: {close: "85.30"', 'USDT/RUB: {close: "90.10"')
        assert (await bot.reloader.reload("SIGHUP")).outcome == "applied"
        assert bot.switchboard.current.parts.rates is not first
        await bot.client.send("/rates")
        assert "1 USDT = <b>90.10 RUB</b>" in bot.telegram.sent()[-1].text
        await bot.switchboard.aclose()  # ends the retirement: the old service is closed
        assert first in bot.closed


async def test_a_text_change_keeps_the_rate_service(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        first = bot.switchboard.current.parts.rates
        edit(bot.file("templates/ru/source.j2"), SOURCE, "Иначе")
        assert (await bot.reloader.reload("SIGHUP")).outcome == "applied"
        assert bot.switchboard.current.parts.rates is first
        assert bot.opened == [first]


async def test_a_set_that_cannot_be_built_keeps_the_old_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tmp_path) as bot:
        serving = bot.switchboard.current

        def broken(*args: object) -> None:
            raise RuntimeError("a bug")

        bot.switchboard.wiring = replace(bot.switchboard.wiring, create_app=broken)
        edit(bot.file("templates/ru/source.j2"), SOURCE, "Иначе")
        with caplog.at_level(logging.ERROR, logger="engine.reload"):
            result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "failed" and result.error == "RuntimeError: a bug"
        assert result.problems == ()
        assert bot.switchboard.current is serving
        [record] = caplog.records
        assert record.exc_info is not None  # the traceback of a bug
        await bot.client.send("/admin_bot")
        assert SOURCE in bot.last_text()


async def test_status_for_health(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        status = bot.reloader.status()
        assert status["hash"] == bot.reloader.loaded.fingerprint and len(status["hash"]) == 12
        assert status["last_reload"] is None
        assert status["files"] == len(bot.reloader.files.files)
        edit(bot.file("templates/ru/source.j2"), SOURCE, "{{ oops")
        await bot.reloader.reload("SIGHUP")
        last = bot.reloader.status()["last_reload"]
        assert last["result"] == "failed" and last["problems"] == 1
        assert last["trigger"] == "SIGHUP" and last["at"].endswith("+00:00")
        assert bot.reloader.status()["hash"] == status["hash"]


async def test_reloads_run_one_at_a_time(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        edit(bot.file("templates/ru/source.j2"), SOURCE, "Иначе")
        first, second = await asyncio.gather(
            bot.reloader.reload("SIGHUP"), bot.reloader.reload("SIGHUP")
        )
        assert (first.outcome, second.outcome) == ("applied", "unchanged")


async def test_no_reload_once_stopping(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.reloader.aclose()
        result = await bot.reloader.reload("SIGHUP")
        assert result.outcome == "failed" and result.error == "stopping"
