"""Numbers a desk can stake money on, end to end: the real bot against real-format fakes.

Each test starts its own bot process (its own ``DATA_DIR``) with the fakes set up the way
the scenario needs: an absurd price, a 50 % jump, APILayer down with the central bank
serving, APILayer refusing one currency code, and a restart inside APILayer's budget
interval. Rates are refreshed every second here (``ttl_seconds`` and the preloader's
interval), so the guard's five minutes are four seconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets

FAST = {
    "  ttl_seconds: 60 ": "  ttl_seconds: 1 ",
    "  interval_seconds: 60\n": "  interval_seconds: 1\n",
    "  confirm_after_seconds: 300 ": "  confirm_after_seconds: 4 ",
}
ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) .*$", re.MULTILINE)


@pytest.fixture
def tg(fresh_tg: FakeTelegram) -> FakeTelegram:
    return fresh_tg


@pytest.fixture
def upstreams(fresh_upstreams: FakeProviders) -> FakeProviders:
    return fresh_upstreams


@pytest.fixture
def launcher(tmp_path: Path, tg: FakeTelegram, upstreams: FakeProviders) -> Iterator[BotLauncher]:
    launch = BotLauncher(tmp_path, tg, upstreams, FAST)
    yield launch
    launch.stop_all()


async def ready_json(bot: BotProcess) -> dict[str, Any]:
    url = f"http://127.0.0.1:{bot.env['PORT']}/health/ready"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body: dict[str, Any] = await response.json()
        body["http_status"] = response.status
        return body


def source_of(card: str) -> str:
    found = re.search(r"Источник: ([a-z +]+),", card)
    assert found, card
    return found.group(1)


def assert_clean(bot: BotProcess) -> None:
    assert ERROR_LINE.findall(bot.log()) == []
    assert_no_secrets(bot.log())


async def test_an_absurd_price_never_reaches_a_card(
    tg: FakeTelegram, upstreams: FakeProviders, launcher: BotLauncher
) -> None:
    upstreams.override_price("apilayer", "THB/RUB", "1E+70")  # "1 RUB = 1E+70 THB"
    upstreams.override_price("rapira", "USDT/RUB", "1e999999999")
    bot = launcher.start()
    admin = Person(tg, ADMINS[0])
    card = await admin.quote("RUB", "THB", margin="2", amount="1000")
    # THB is left out of APILayer's answer; the central bank serves it.
    assert source_of(card.norm) == "cbr", card.norm
    assert "E+" not in card.norm and "e+" not in card.norm
    card = await admin.quote("RUB", "USD", margin="2", amount="1000")
    assert source_of(card.norm) == "apilayer"  # the rest of that answer is fine
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert source_of(card.norm) == "coingecko"  # Rapira's only pair was absurd
    admin.send("/rates")
    rates = await admin.sees("Текущие курсы")
    assert "недоступен" not in rates.norm and "E+" not in rates.norm
    body = await ready_json(bot)
    assert body["http_status"] == 200
    served = {d["pair"]: d["sources"] for d in body["directions"] if d["cached"]}
    assert served["THB/RUB"] == ["cbr"] and served["USD/RUB"] == ["apilayer"]
    log = bot.log()
    assert "THB/RUB" in log and "1E+70" in log  # the WARNING names the pair and the value
    assert admin.refusals() == []
    assert_clean(bot)


async def test_a_fifty_percent_jump_is_held_until_it_persists(
    tg: FakeTelegram, upstreams: FakeProviders, launcher: BotLauncher
) -> None:
    bot = launcher.start()
    admin = Person(tg, ADMINS[1])
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Курс биржи: 1 USDT = 85,30 RUB" in card.norm
    upstreams.usdt_rub.update(close="127.95", bid="127.90", ask="128.00")  # +50 %
    await tg.wait_for(lambda: "jumped from 85.30 to 127.95" in bot.log(), 10, "the hold")
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Курс биржи: 1 USDT = 85,30 RUB" in card.norm, card.norm  # the last good rate
    assert "ждёт подтверждения" in card.norm
    admin.send("/rates")
    rates = await admin.sees("Задержаны")
    assert "rapira: 1 USDT = 127,95 RUB" in rates.norm, rates.norm
    body = await ready_json(bot)
    assert [h["pair"] for h in body["guard"]["held"]] == ["USDT/RUB"]
    # Fetched every second meanwhile: back-to-back fetches are no confirmation, but four
    # seconds of the same price are.
    await tg.wait_for(lambda: "USDT/RUB accepted at 127.95" in bot.log(), 15, "acceptance")
    card = await admin.quote("RUB", "USDT", margin="2", amount="1000")
    assert "Курс биржи: 1 USDT = 127,95 RUB" in card.norm, card.norm
    assert "ждёт подтверждения" not in card.norm
    warning = next(line for line in bot.log().splitlines() if "jumped from" in line)
    assert " WARNING " in warning and "held" in warning
    assert_clean(bot)


async def test_apilayer_down_the_central_bank_serves(
    tg: FakeTelegram, upstreams: FakeProviders, launcher: BotLauncher
) -> None:
    upstreams.outage("apilayer", "503")
    bot = launcher.start()
    admin = Person(tg, ADMINS[2])
    card = await admin.quote("RUB", "EUR", margin="2", amount="1000")
    assert source_of(card.norm) == "cbr", card.norm
    # CBR's recorded EUR 89.0057 → 89.01; × 1.02 = 90.7858… → 90.79; 1000 / 90.79 → 11.01
    assert "Курс биржи: 1 EUR = 89,01 RUB" in card.norm
    assert "Клиент получает: 11,01 EUR" in card.norm
    card = await admin.quote("USDT", "IDR", margin="1", amount="100")
    assert source_of(card.norm) == "rapira + cbr"  # a cross names both sources
    body = await ready_json(bot)
    assert body["http_status"] == 200
    assert all(d["servable"] for d in body["directions"])
    assert admin.refusals() == []
    assert_clean(bot)


async def test_apilayer_refusing_one_code_costs_only_that_currency(
    tg: FakeTelegram, upstreams: FakeProviders, launcher: BotLauncher
) -> None:
    upstreams.reject_symbol("ZAR")
    bot = launcher.start()
    admin = Person(tg, ADMINS[3])
    card = await admin.quote("RUB", "ZAR", margin="2", amount="1000")
    assert source_of(card.norm) == "cbr", card.norm
    for code in ("USD", "EUR", "THB", "AED", "IDR"):
        card = await admin.quote("RUB", code, margin="2", amount="100000")
        assert source_of(card.norm) == "apilayer", card.norm
    rejected = [line for line in bot.log().splitlines() if "ZAR" in line and "reject" in line]
    assert rejected and " WARNING " in rejected[0], bot.log_tail()
    assert_clean(bot)


async def test_a_restart_inside_the_budget_interval_does_not_fetch_again(
    tg: FakeTelegram, upstreams: FakeProviders, launcher: BotLauncher
) -> None:
    first = launcher.start()
    admin = Person(tg, ADMINS[4])
    await tg.wait_for(lambda: upstreams.calls("apilayer"), 10, "the first APILayer fetch")
    card = await admin.quote("RUB", "USD", margin="2", amount="1000")
    assert source_of(card.norm) == "apilayer"
    before = len(upstreams.calls("apilayer"))
    assert (await ready_json(first))["budgets"][0]["used"] == before
    first.stop()
    assert first.returncode == 0

    second = launcher.start()  # the same DATA_DIR
    rapira_before = len(upstreams.calls("rapira"))
    await tg.wait_for(
        lambda: len(upstreams.calls("rapira")) > rapira_before + 2, 10, "the preloader's rounds"
    )
    card = await admin.quote("RUB", "USD", margin="2", amount="1000")
    assert source_of(card.norm) == "apilayer"  # the rates kept across the restart
    assert len(upstreams.calls("apilayer")) == before  # and no request spent on them
    budget = (await ready_json(second))["budgets"][0]
    assert (budget["provider"], budget["used"], budget["budget"]) == ("apilayer", before, 100)
    assert budget["left"] == 90 - before
    assert_clean(second)
