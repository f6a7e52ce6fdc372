"""Every source down from the start, so nothing is cached: "rate unavailable", then Retry.

Rapira drops the connection without an answer, its fallback CoinGecko answers its 429;
APILayer answers 503 and its fallback, the CBR mirror, drops the connection. Its own bot
process and fakes: the shared bot has rates cached.
"""

from __future__ import annotations

import pytest

from tests.e2e.fake_providers import FakeProviders
from tests.e2e.fake_telegram import FakeTelegram
from tests.e2e.harness import ADMINS, BotLauncher, BotProcess, Person, assert_no_secrets


@pytest.fixture(scope="module")
def bot_without_rates(own_launcher: BotLauncher, own_upstreams: FakeProviders) -> BotProcess:
    own_upstreams.outage("rapira", "drop")
    own_upstreams.outage("coingecko", "429")
    own_upstreams.outage("apilayer", "503")
    own_upstreams.outage("cbr", "drop")
    return own_launcher.start()


async def test_rate_unavailable_then_retry_shows_the_quote(
    own_tg: FakeTelegram, own_upstreams: FakeProviders, bot_without_rates: BotProcess
) -> None:
    tg, upstreams = own_tg, own_upstreams
    # The preloader has tried both and failed: nothing is cached.
    await tg.wait_for(
        lambda: upstreams.calls("rapira") and upstreams.calls("apilayer"), 10, "preload attempts"
    )
    crypto, fiat = Person(tg, ADMINS[0]), Person(tg, ADMINS[1])
    screens = {}
    for admin, get in ((crypto, "USDT"), (fiat, "USD")):
        screen = await admin.quote("RUB", get, margin="2", amount="1000")
        assert "Курс сейчас недоступен" in screen.norm, screen.norm
        assert "🔁 Повторить" in screen.button_texts
        assert admin.screens["result"] not in screen.norm
        assert "85,30" not in screen.norm and "81,50" not in screen.norm  # no made-up rate
        screens[admin] = screen

    upstreams.restore()
    crypto.click(screens[crypto], "Повторить")
    card = await crypto.sees_screen("result")
    # 85.30 × 1.02 = 87.006 → 87.01; 1000 / 87.01 → 11.49
    assert "Клиент получает: 11,49 USDT" in card.norm
    assert "Курс для клиента: 1 USDT = 87,01 RUB" in card.norm
    fiat.click(screens[fiat], "Повторить")
    card = await fiat.sees_screen("result")
    # APILayer's failed start spent requests of its budget; early in a month the pace may
    # not allow another yet, and then the central bank serves. Either way the card names
    # the source it used, with that source's numbers.
    if "Источник: apilayer" in card.norm:
        # USD/RUB = 1 / 0.01227 = 81.4996 → shown 81.50; × 1.02 = 83.1296 → 83.13;
        # 1000 / 83.13 → 12.02
        assert "Курс биржи: 1 USD = 81,50 RUB" in card.norm
        assert "Курс для клиента: 1 USD = 83,13 RUB" in card.norm
        assert "Клиент получает: 12,02 USD" in card.norm
    else:
        # CBR's recorded USD 82.6417 → 82.64; × 1.02 = 84.2945 → 84.30; 1000 / 84.30 → 11.86
        assert "Источник: cbr" in card.norm, card.norm
        assert "Курс биржи: 1 USD = 82,64 RUB" in card.norm
        assert "Курс для клиента: 1 USD = 84,30 RUB" in card.norm
        assert "Клиент получает: 11,86 USD" in card.norm
    for admin in (crypto, fiat):
        await admin.all_clicks_answered()
        assert admin.refusals() == []
    assert bot_without_rates.alive
    assert_no_secrets(bot_without_rates.log())
