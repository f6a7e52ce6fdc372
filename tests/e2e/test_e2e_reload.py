"""Hot reload on the real ``crypto-helper run --offline``: a template edited in the running
project, then SIGHUP, ``crypto-helper reload``, or nothing at all with ``bot.watch: true``;
polling and webhook. Each test prints how long it took from saving the file to the bot
showing the new text (``pytest -s`` shows it)."""

# The wait helpers take a deadline; "timeout" is their natural name.
# ruff: noqa: ASYNC109
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, free_port

SOURCE = "Какую валюту отдаёт клиент?"
TARGET = "Какую валюту клиент получает?"
BROKEN = "{{ oops"
PROBLEM = "templates/ru/source.j2:4:1: template syntax error: a {{ … }} here is not closed"


def _launcher(
    factory: pytest.TempPathFactory, upstreams: FakeProviders, edits: dict[str, str] | None = None
) -> Iterator[tuple[FakeTelegram, BotLauncher]]:
    tg = FakeTelegram().start()  # one bot per fake: two pollers would end each other's polls
    launch = BotLauncher(factory.mktemp("e2e-reload"), tg, upstreams, edits)
    yield tg, launch
    launch.stop_all()
    tg.stop()


@pytest.fixture(scope="module")
def polling(
    tmp_path_factory: pytest.TempPathFactory, own_upstreams: FakeProviders
) -> Iterator[tuple[FakeTelegram, BotProcess]]:
    for tg, launch in _launcher(tmp_path_factory, own_upstreams):
        yield tg, launch.start(args=("--offline",))


def template(bot: BotProcess, name: str = "source.j2") -> Path:
    return bot.config.parent / "templates" / "ru" / name


def save(path: Path, old: str, new: str) -> float:
    """Replace ``old`` with ``new`` in ``path``; return the monotonic time it was saved."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name}: no {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return time.monotonic()


def definitions(bot: BotProcess) -> dict[str, Any]:
    url = f"http://127.0.0.1:{bot.env['PORT']}/health/ready"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 while not ready: the body says all the same
        body = json.loads(exc.read())
    result: dict[str, Any] = body["definitions"]
    return result


async def hash_changes(bot: BotProcess, before: str, timeout: float = 15.0) -> float:
    """Wait until /health/ready names another set; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        if (await asyncio.to_thread(definitions, bot))["hash"] != before:
            return time.monotonic()
        assert time.monotonic() < deadline, f"no new set in {timeout} s:\n{bot.log_tail()}"
        await asyncio.sleep(0.02)


async def in_log(bot: BotProcess, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in bot.log():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{bot.log_tail()}"
        await asyncio.sleep(0.05)


def command(bot: BotProcess, name: str) -> subprocess.CompletedProcess[str]:
    """``crypto-helper <name>`` as a person runs it, in the project's folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("METRICS_TOKEN", "CONFIG_PATH")}
    env["PORT"] = bot.env["PORT"]
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", name, "--config", str(bot.config)],
        cwd=bot.config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def reload_command(bot: BotProcess) -> subprocess.CompletedProcess[str]:
    return command(bot, "reload")


def report(what: str, saved: float, applied: float, shown: float) -> None:
    print(
        f"\n{what}: saved → new set serving {applied - saved:.2f} s, → the admin sees the "
        f"new text {shown - saved:.2f} s"
    )


async def test_sighup_applies_an_edited_template(polling: tuple[FakeTelegram, BotProcess]) -> None:
    tg, bot = polling
    admin = Person(tg, ADMINS[0])
    admin.send("/admin_bot")
    in_progress = await admin.sees(SOURCE)  # a dialog open before the reload
    before = (await asyncio.to_thread(definitions, bot))["hash"]
    saved = save(template(bot, "target.j2"), TARGET, "Что клиент получает?")
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGHUP)
    applied = await hash_changes(bot, before)
    admin.click(in_progress, r"\bRUB$")  # the dialog goes on, with the new text
    await admin.sees("Что клиент получает?")
    report("SIGHUP", saved, applied, time.monotonic())
    status = await asyncio.to_thread(definitions, bot)
    assert status["last_reload"]["result"] == "applied"
    assert status["last_reload"]["trigger"] == "SIGHUP"
    assert "reload (SIGHUP): set" in bot.log()
    assert admin.refusals() == []


async def test_the_reload_command_applies_and_reports(
    polling: tuple[FakeTelegram, BotProcess],
) -> None:
    tg, bot = polling
    admin = Person(tg, ADMINS[1])
    saved = save(template(bot), SOURCE, "Что клиент приносит?")
    done = await asyncio.to_thread(reload_command, bot)
    applied = time.monotonic()
    assert done.returncode == 0, done.stderr
    running = (await asyncio.to_thread(definitions, bot))["hash"]
    assert done.stdout.startswith(f"reloaded: set {running} is serving (")
    admin.send("/admin_bot")
    await admin.sees("Что клиент приносит?")
    report("crypto-helper reload", saved, applied, time.monotonic())
    again = await asyncio.to_thread(reload_command, bot)
    assert (again.returncode, again.stdout) == (
        0,
        f"nothing new: set {running} already serves these files\n",
    )


async def test_a_broken_edit_keeps_the_old_text_and_logs_the_problem(
    polling: tuple[FakeTelegram, BotProcess],
) -> None:
    tg, bot = polling
    admin = Person(tg, ADMINS[2])
    admin.send("/admin_bot")
    current = (await admin.sees("Новый расчёт обмена")).norm  # whatever serves now
    serving = (await asyncio.to_thread(definitions, bot))["hash"]
    path = template(bot)
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("</b>", "</b>\n" + BROKEN, 1), encoding="utf-8")
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGHUP)
    await in_log(bot, "reload (SIGHUP): 1 problem(s) found; still serving set " + serving)
    check = await asyncio.to_thread(command, bot, "check")
    assert check.returncode == 2
    [problem, summary] = check.stderr.splitlines()
    assert problem.startswith(PROBLEM) and summary == "1 problem(s) found."
    [line] = [line for line in bot.log().splitlines() if problem in line]
    assert " ERROR engine.reload.reloader: " + problem == line[line.index(" ERROR") :]
    admin.send("/admin_bot")
    assert (await admin.sees("Новый расчёт обмена")).norm == current  # the old text
    done = await asyncio.to_thread(reload_command, bot)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        problem,
        f"1 problem(s) found; the bot still serves set {serving}.",
    ]
    status = await asyncio.to_thread(definitions, bot)
    assert status["hash"] == serving
    assert status["last_reload"]["result"] == "failed" and status["last_reload"]["problems"] == 1
    path.write_text(good, encoding="utf-8")  # put back: the same set as serving
    assert (await asyncio.to_thread(reload_command, bot)).returncode == 0
    assert admin.refusals() == []


@pytest.fixture(scope="module")
def watching(
    tmp_path_factory: pytest.TempPathFactory, own_upstreams: FakeProviders
) -> Iterator[tuple[FakeTelegram, BotProcess]]:
    edits = {"  watch: false": "  watch: true"}
    for tg, launch in _launcher(tmp_path_factory, own_upstreams, edits):
        yield tg, launch.start(args=("--offline",))


async def test_with_watch_a_save_applies_without_a_signal(
    watching: tuple[FakeTelegram, BotProcess],
) -> None:
    tg, bot = watching
    await in_log(bot, "(bot.watch)")  # the watch is set up
    admin = Person(tg, ADMINS[3])
    before = (await asyncio.to_thread(definitions, bot))["hash"]
    saved = save(template(bot), SOURCE, "Сохранено — и уже видно")
    applied = await hash_changes(bot, before)
    admin.send("/admin_bot")
    await admin.sees("Сохранено — и уже видно")
    report("bot.watch", saved, applied, time.monotonic())
    assert (await asyncio.to_thread(definitions, bot))["last_reload"]["trigger"] == "file change"
    # a broken save: the bot keeps the last good text and says why
    path = template(bot)
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("</b>", "</b>\n" + BROKEN, 1), encoding="utf-8")
    await in_log(bot, "reload (file change): 1 problem(s) found")
    admin.send("/admin_bot")
    await admin.sees("Сохранено — и уже видно")
    assert admin.refusals() == []


@pytest.fixture(scope="module")
def webhook(
    tmp_path_factory: pytest.TempPathFactory, own_upstreams: FakeProviders
) -> Iterator[tuple[FakeTelegram, BotProcess]]:
    edits = {"mode: polling": "mode: webhook"}
    for tg, launch in _launcher(tmp_path_factory, own_upstreams, edits):
        port = free_port()
        yield (
            tg,
            launch.start(
                ready="setWebhook",
                args=("--offline",),
                PORT=str(port),
                WEBHOOK_URL=f"http://127.0.0.1:{port}",
                WEBHOOK_SECRET="e2e-reload-Secret_1",
            ),
        )


async def test_sighup_in_webhook_mode(webhook: tuple[FakeTelegram, BotProcess]) -> None:
    tg, bot = webhook
    admin = Person(tg, ADMINS[4])
    admin.send("/admin_bot")
    await admin.sees(SOURCE)
    before = (await asyncio.to_thread(definitions, bot))["hash"]
    saved = save(template(bot), SOURCE, "Вебхук: новый текст")
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGHUP)
    applied = await hash_changes(bot, before)
    admin.send("/admin_bot")
    await admin.sees("Вебхук: новый текст")
    report("SIGHUP, webhook", saved, applied, time.monotonic())
    assert tg.calls("getUpdates") == []
    assert admin.refusals() == []


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, own_upstreams: FakeProviders
) -> Iterator[tuple[FakeTelegram, BotProcess]]:
    for tg, launch in _launcher(tmp_path_factory, own_upstreams):
        yield tg, launch.start()  # live rates, from the fake providers


async def test_a_direction_removed_applies_with_live_rates(
    live: tuple[FakeTelegram, BotProcess], own_upstreams: FakeProviders
) -> None:
    tg, bot = live
    admin = Person(tg, ADMINS[5])
    admin.send("/q 1000 rub zar 2")
    await admin.sees("Клиент получает:")
    await in_log(bot, "rates: preloading")
    fetched = {name: len(own_upstreams.calls(name)) for name in ("rapira", "apilayer", "cbr")}
    save(
        bot.config,
        "RUB: [USDT, USD, EUR, THB, AED, ZAR, IDR]",
        "RUB: [USDT, USD, EUR, THB, AED, IDR]",
    )
    done = await asyncio.to_thread(reload_command, bot)
    assert done.returncode == 0, done.stderr
    admin.send("/q 1000 rub zar 2")
    await admin.sees("Понял: 1000 RUB → ZAR")  # no such direction any more
    admin.send("/q 1000 rub usd 2")
    await admin.sees("Клиент получает:")  # the new rate service serves the rest
    # the new rate service starts from the cached rates and counts: nothing fetched again
    assert {name: len(own_upstreams.calls(name)) for name in fetched} == fetched
    assert bot.log().count("rates: preloading") == 2  # handed over to the new one
    assert admin.refusals() == []
    assert bot.stop() == 0
    log = bot.log()
    assert "Unclosed" not in log and "Traceback" not in log and "ERROR" not in log
