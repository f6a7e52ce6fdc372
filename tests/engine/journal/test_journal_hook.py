"""compute_quote records every quote it makes, built from what it stored, without waiting."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from aiogram.types import Chat, User

from engine.definitions import load_definitions
from engine.flow.actions import ActionContext, compute_quote
from engine.flow.builder import quote_origin
from engine.flow.services import FlowServices
from engine.journal.entry import JournalEntry
from engine.journal.hook import QuoteOrigin, bot_version, quote_entry
from engine.rates.offline import create_offline_rates
from engine.rates.quote_number import ALPHABET, is_quote_number, new_quote_number

ROOT = Path(__file__).resolve().parents[3]
DEFS = load_definitions(ROOT / "config.yaml")


class Recorder:
    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def record(self, entry: JournalEntry) -> None:
        self.entries.append(entry)


def origin(language: str = "en") -> QuoteOrigin | None:
    user = User(
        id=1001, is_bot=False, first_name="A", username="desk_anna", language_code=language
    )
    return quote_origin(user, Chat(id=-1001, type="private"), DEFS.config)


async def test_a_quote_is_recorded_with_everything_needed_to_reproduce_it() -> None:
    rates = create_offline_rates(DEFS.config)
    journal = Recorder()
    data: dict[str, Any] = {"give": "RUB", "get": "USDT", "margin": "2", "amount": "1000"}
    await compute_quote(ActionContext(data, FlowServices(rates, journal=journal), origin()))
    await rates.close()
    [entry] = journal.entries
    quote = data["quote"]
    assert entry.quote_no == quote.get("number") and is_quote_number(entry.quote_no)
    assert (entry.admin_id, entry.admin_username, entry.chat_id) == (1001, "desk_anna", -1001)
    assert (entry.give, entry.get, entry.mode, entry.locale) == ("RUB", "USDT", "give", "en")
    assert entry.amount_given == Decimal(quote["amount"]) == Decimal("1000.00")
    assert entry.amount_received == Decimal(quote["result"]) == Decimal("11.49")
    assert (entry.asset, entry.price) == ("USDT", "RUB")
    assert (entry.base_rate, entry.final_rate, entry.margin) == (
        Decimal("85.30"),
        Decimal("87.01"),
        Decimal("2"),
    )
    assert entry.sources == ("static",)
    assert entry.stale is False and entry.held is False
    assert entry.bot_version == bot_version() != ""
    assert entry.created_at.tzinfo is not None


async def test_the_cards_number_is_the_rows_and_receive_mode_is_kept() -> None:
    rates = create_offline_rates(DEFS.config)
    journal = Recorder()
    data: dict[str, Any] = {"give": "USDT", "get": "THB", "margin": "1.5", "amount": "100"}
    await compute_quote(ActionContext(data, FlowServices(rates, journal=journal), origin("ru")))
    await rates.close()
    [entry] = journal.entries
    assert entry.quote_no == data["quote"]["number"]
    assert entry.locale == "ru"
    # the number an action put on the card is used as it is; "fixed" says the mode
    data["quote"].update(number="K7M2QX", fixed="receive")
    found = origin()
    assert found is not None
    again = quote_entry(data, found, entry.created_at)
    assert (again.quote_no, again.mode) == ("K7M2QX", "receive")


async def test_without_a_journal_or_a_user_nothing_is_recorded() -> None:
    rates = create_offline_rates(DEFS.config)
    data: dict[str, Any] = {"give": "RUB", "get": "USDT", "margin": "2", "amount": "1000"}
    await compute_quote(ActionContext(data, FlowServices(rates), origin()))  # tests, bench
    journal = Recorder()
    await compute_quote(ActionContext(dict(data), FlowServices(rates, journal=journal)))
    await rates.close()
    assert journal.entries == []  # check's previews have no user
    assert quote_origin(None, Chat(id=1, type="private"), DEFS.config) is None


def test_quote_numbers() -> None:
    numbers = {new_quote_number() for _ in range(2000)}
    assert len(numbers) > 1990
    assert all(len(n) == 6 and set(n) <= set(ALPHABET) for n in numbers)
    assert not set("ILOU") & set(ALPHABET)
    assert (
        is_quote_number("k7m2qx")
        and not is_quote_number("K7M2Q")
        and not is_quote_number("K7M2QI")
    )
