"""Adding a currency is a YAML-only change: it shows in keyboards and quotes."""

from __future__ import annotations

from pathlib import Path

from flow_helpers import button, to_amount

from engine.definitions import load_definitions

GBP = """  - code: GBP
    kind: fiat
    emoji: "🇬🇧"
    name: {ru: Фунт стерлингов, en: Pound sterling}
    decimals: 2
    min_amount: "1"
    max_amount: "1000000"

# Which currency the client gives"""


def add_gbp(edit) -> None:
    edit("config.yaml", "\n# Which currency the client gives", "\n" + GBP)
    edit("config.yaml", "  RUB: [USDT, USD, EUR,", "  RUB: [USDT, USD, GBP, EUR,")
    edit("config.yaml", "  USDT: [RUB, USD, EUR,", "  USDT: [RUB, USD, GBP, EUR,")
    edit("config.yaml", "- pairs: [USD/RUB, EUR/RUB,", "- pairs: [USD/RUB, GBP/RUB, EUR/RUB,")
    edit(
        "config.yaml",
        '      USD/RUB: "81.50"\n',
        '      USD/RUB: "81.50"\n      GBP/RUB: "103.40"\n',
    )


async def test_new_currency_in_keyboards_and_quotes(project: Path, edit, make_chat) -> None:
    add_gbp(edit)
    defs = load_definitions()
    chat = make_chat(defs=defs)
    await chat.send("/admin_bot")
    await chat.click(button("RUB"))
    assert "[🇬🇧 GBP | <intent>:target:GBP]" in chat.transcript[-1]
    await chat.click(button("GBP"))
    await chat.send("2")
    text = await chat.send("10000")
    # 103.40 × 1.02 = 105.468 → 105.47 (rounded for the desk); 10 000 ÷ 105.47 = 94.81...
    assert "Курс для клиента: <b>1 GBP = 105,47 RUB</b>" in text
    assert "Клиент получает: <b>94,81 GBP</b>" in text


async def test_new_currency_crosses_through_the_pivot(project: Path, edit, make_chat) -> None:
    add_gbp(edit)
    chat = make_chat(defs=load_definitions())
    await to_amount(chat, "USDT", "GBP", margin="1")
    text = await chat.send("100")
    # USDT/GBP = 85.30 / 103.40 = 0.82495... → 0.8250; client sells USDT: × 0.99 = 0.816750
    # → 0.8167 (rounded for the desk); 100 × 0.8167 = 81.67
    assert "Курс биржи: 1 USDT = 0,8250 GBP" in text
    assert "Клиент получает: <b>81,67 GBP</b>" in text
