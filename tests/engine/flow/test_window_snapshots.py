"""Every window in every locale, as the admin sees it (text + keyboard, intent id masked).

Review a snapshot diff like code: ``pytest --snapshot-update`` rewrites them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

import pytest
from flow_helpers import FlakyProvider, to_amount, walk_to
from test_dialog import DIRECTIONS
from test_dialog_double_tap import tap
from test_dialog_failures import flaky_service

from engine.messages import RATES, rates_context
from engine.rates.service import RateService
from engine.texts import REQUIRED_STRINGS
from providers.base import Pair, Quote
from providers.static import StaticProvider

LOCALES = ["ru", "en"]
SAMPLE_AMOUNT = {"RUB": "150000", "USDT": "2500.5"}
ERROR_INPUTS = {
    "empty": "",
    "too_long": "9" * 41,
    "not_a_number": "<i>12abc</i>",
    "ambiguous": "1,000",
    "negative": "-5",
    "too_small": "0",
    "too_large": "1000000000000",
    "too_many_decimals": "1.2345",
    "hidden_characters": "\u202e0001",
    "foreign_digits": "١٠٥",
}


def transcript(chat) -> str:
    return "\n\n────────\n\n".join(chat.transcript)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("give", "get"), DIRECTIONS)
async def test_direction_windows(make_chat, snapshot, locale: str, give: str, get: str) -> None:
    chat = make_chat(language=locale)
    await to_amount(chat, give, get, margin="1.5")
    await chat.send(SAMPLE_AMOUNT[give])
    assert transcript(chat) == snapshot


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("code", sorted(ERROR_INPUTS))
async def test_amount_error_windows(make_chat, snapshot, locale: str, code: str) -> None:
    chat = make_chat(language=locale)
    await walk_to(chat, "amount")
    await chat.send(ERROR_INPUTS[code])
    assert chat.transcript[-1] == snapshot


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("typed", ["abc", "11", "2.555", "-1"])
async def test_margin_error_windows(make_chat, snapshot, locale: str, typed: str) -> None:
    chat = make_chat(language=locale)
    await walk_to(chat, "margin")
    await chat.send(typed)
    assert chat.transcript[-1] == snapshot


@pytest.mark.parametrize("locale", LOCALES)
async def test_cancelled_window(make_chat, snapshot, locale: str) -> None:
    chat = make_chat(language=locale)
    await walk_to(chat, "margin")
    await chat.click(button_label(locale, "cancel"))
    assert chat.transcript[-1] == snapshot


def button_label(locale: str, name: str) -> str:
    labels = {"ru": {"cancel": "✖️ Отмена"}, "en": {"cancel": "✖️ Cancel"}}
    return labels[locale][name]


def test_every_error_code_has_a_snapshot_input() -> None:
    assert set(ERROR_INPUTS) == set(REQUIRED_STRINGS["errors"])


@pytest.mark.parametrize("locale", LOCALES)
async def test_rates_unavailable_window(make_chat, definitions, snapshot, locale: str) -> None:
    rates, provider = flaky_service(definitions)
    provider.down = True
    chat = make_chat(language=locale, rates=rates)
    await to_amount(chat, "USDT", "THB")
    await chat.send("100")
    assert chat.transcript[-1] == snapshot


class JumpingProvider(FlakyProvider):
    """The static rates, with one pair's price scaled on demand (a jump)."""

    def __init__(self, inner: StaticProvider) -> None:
        super().__init__(inner)
        self.scale: dict[Pair, Decimal] = {}

    async def fetch(self, pairs: Sequence[Pair]) -> Mapping[Pair, Quote]:
        quotes = dict(await super().fetch(pairs))
        for pair, factor in self.scale.items():
            if pair in quotes:
                quotes[pair] = replace(quotes[pair], close=quotes[pair].close * factor)
        return quotes


@pytest.mark.parametrize("locale", LOCALES)
async def test_held_jump_windows(make_chat, definitions, snapshot, locale: str) -> None:
    """The result card and /rates while a 50 % jump awaits confirmation."""
    config = definitions.config
    provider = JumpingProvider(StaticProvider("static", config.providers["static"]))
    rates = RateService(config.offline(), {"static": provider})
    chat = make_chat(language=locale, rates=rates)
    await rates.refresh("static")
    provider.scale[Pair("USDT", "RUB")] = Decimal("1.5")
    await rates.refresh("static")
    await to_amount(chat, "RUB", "USDT", margin="1.5")
    await chat.send("150000")
    rows = await rates.snapshot()
    listing = definitions.renderer.window(locale, RATES, rates_context(config, locale, rows))
    assert "\n\n────────\n\n".join([chat.transcript[-1], listing]) == snapshot


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("typed", ["abc", "1000000000000", "0", "2500"])
async def test_typed_on_the_result_card(make_chat, snapshot, locale: str, typed: str) -> None:
    """A kept card with ``input``: the new card (requote, or the error on top of the quote)."""
    chat = make_chat(language=locale)
    await walk_to(chat, "result")
    await chat.send(typed)
    assert chat.transcript[-1] == snapshot


@pytest.mark.parametrize("admin_locale", LOCALES)
@pytest.mark.parametrize("client_locale", LOCALES)
@pytest.mark.parametrize(("give", "get"), [("RUB", "USDT"), ("USDT", "THB")])
async def test_client_card(
    make_chat, snapshot, admin_locale: str, client_locale: str, give: str, get: str
) -> None:
    """What "for the client" sends, in the language picked, whatever the admin's."""
    chat = make_chat(language=admin_locale)
    await to_amount(chat, give, get, margin="1.5")
    await chat.send(SAMPLE_AMOUNT[give])
    label = {"ru": "📤 Клиенту", "en": "📤 For the client"}[admin_locale]
    await tap(chat, chat.window(), f"{label} · {client_locale.upper()}")
    [sent] = chat.client.bot.sent
    assert sent.text == snapshot


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("give", "get"), [("RUB", "USDT"), ("USDT", "RUB"), ("USDT", "IDR")])
async def test_receive_mode_windows(make_chat, snapshot, locale: str, give: str, get: str) -> None:
    """The amount typed as what the client receives: the prompt, the card, the swap."""
    chat = make_chat(language=locale)
    await to_amount(chat, give, get, margin="1.5")
    await chat.click(
        {"ru": "↔️ Ввести сумму получения", "en": "↔️ Enter the amount received"}[locale]
    )
    await chat.send("1000")
    assert transcript(chat) == snapshot
