"""Texts and steps of known kinds change with YAML and templates only."""

from __future__ import annotations

from pathlib import Path

from flow_helpers import walk_to

from engine.definitions import load_definitions


async def test_editing_a_template_changes_the_text(project: Path, edit, make_chat) -> None:
    edit("templates/ru/source.j2", "Какую валюту отдаёт клиент?", "Что приносит клиент?")
    chat = make_chat(defs=load_definitions())
    assert "Что приносит клиент?" in await chat.send("/admin_bot")


async def test_editing_a_button_label(project: Path, edit, make_chat) -> None:
    edit("templates/ru/strings.yaml", 'back: "← Назад"', 'back: "⬅️ Вернуться"')
    chat = make_chat(defs=load_definitions())
    await walk_to(chat, "target")
    assert "[⬅️ Вернуться | <intent>:target.back]" in chat.transcript[-1]


async def test_a_new_step_of_a_known_kind(project: Path, edit, make_chat) -> None:
    edit(
        "flows/exchange.yaml",
        "    save_as: margin\n    next: amount\n",
        "    save_as: margin\n    next: deal_no\n",
    )
    edit(
        "flows/exchange.yaml",
        "  amount:\n",
        (
            "  deal_no:\n"
            "    kind: input\n"
            "    input: {type: decimal, min: 1, max: 999999, max_decimals: 0}\n"
            "    save_as: deal_no\n"
            "    next: amount\n"
            "    buttons: [back, cancel]\n\n"
            "  amount:\n"
        ),
    )
    for locale, text in (("ru", "Номер сделки?"), ("en", "Deal number?")):
        (project / "templates" / locale / "deal_no.j2").write_text(
            '{% include "_error.j2" %}' + text + "\n", encoding="utf-8"
        )
    chat = make_chat(defs=load_definitions())
    await walk_to(chat, "margin")
    assert "Номер сделки?" in await chat.send("2")
    assert (await chat.send("1.5")).startswith("⚠️ Здесь нужна целая сумма")
    assert "Введите сумму" in await chat.send("42")
    assert "Клиент получает: <b>11,49 USDT</b>" in await chat.send("1000")
    assert "Введите сумму" in await chat.click("← Назад")
    assert "Номер сделки?" in await chat.click("← Назад")
