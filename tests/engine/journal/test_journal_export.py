"""/export's CSV: BOM, ';', a localised header, decimals as on the cards, desk time."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from journal_helpers import entry

from engine.definitions import load_definitions
from engine.journal.export import export_csv

ROOT = Path(__file__).resolve().parents[3]
DEFS = load_definitions(ROOT / "config.yaml")


def rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


@pytest.mark.parametrize(
    ("locale", "header", "cells"),
    [
        (
            "ru",
            [
                "Номер",
                "Время (Europe/Moscow)",
                "ID админа",
                "Админ",
                "ID чата",
                "Отдаёт, валюта",
                "Получает, валюта",
                "Задана сумма",
                "Отдаёт, сумма",
                "Получает, сумма",
                "Курс биржи",
                "Курс клиента",
                "Наценка, %",
                "Источник",
                "Возраст курса, с",
                "Устаревший курс",
                "Язык",
                "Версия бота",
            ],
            [
                "Q00000",
                "2026-12-01 12:30:15",
                "1001",
                "desk_anna",
                "1001",
                "RUB",
                "USDT",
                "отдаёт",
                "1\xa0234\xa0567,50",
                "11,49",
                "85,30",
                "87,01",
                "2",
                "rapira + coingecko",
                "3",
                "нет",
                "ru",
                "0.1.0",
            ],
        ),
        (
            "en",
            [
                "Number",
                "Time (Europe/Moscow)",
                "Admin id",
                "Admin",
                "Chat id",
                "Gives",
                "Gets",
                "Amount fixed",
                "Amount given",
                "Amount received",
                "Market rate",
                "Client rate",
                "Margin, %",
                "Source",
                "Rate age, s",
                "Stale rate",
                "Language",
                "Bot version",
            ],
            [
                "Q00000",
                "2026-12-01 12:30:15",
                "1001",
                "desk_anna",
                "1001",
                "RUB",
                "USDT",
                "given",
                "1,234,567.50",
                "11.49",
                "85.30",
                "87.01",
                "2",
                "rapira + coingecko",
                "3",
                "no",
                "ru",
                "0.1.0",
            ],
        ),
    ],
)
def test_header_and_a_row(locale: str, header: list[str], cells: list[str]) -> None:
    quote = entry(0, amount_given=Decimal("1234567.5"), sources=("rapira", "coingecko"))
    table = rows(export_csv([quote], DEFS.config, DEFS.renderer, locale))
    assert table == [header, cells]


def test_amounts_take_their_currencys_decimals_and_rates_their_own() -> None:
    idr = entry(
        1,
        give="USDT",
        get="IDR",
        asset="USDT",
        price="IDR",
        amount_given=Decimal("100"),
        amount_received=Decimal("1588235"),
        base_rate=Decimal("16204.0"),
        final_rate=Decimal("15882.35"),
        margin=Decimal("1.5"),
        mode="receive",
        stale=True,
    )
    [_, row] = rows(export_csv([idr], DEFS.config, DEFS.renderer, "en"))
    assert row[7:13] == ["received", "100.00", "1,588,235", "16,204.0", "15,882.35", "1.5"]
    assert row[15] == "yes"


def test_a_thousand_quotes_in_order() -> None:
    quotes = [entry(i, amount_given=Decimal(i) + Decimal("0.01")) for i in range(1000)]
    table = rows(export_csv(quotes, DEFS.config, DEFS.renderer, "ru"))
    assert len(table) == 1001
    assert [r[0] for r in table[1:]] == [f"Q{i:05d}" for i in range(1000)]
    assert table[1000][8] == "999,01"
