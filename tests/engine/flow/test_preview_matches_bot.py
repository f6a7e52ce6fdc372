"""``crypto-helper check``/``preview`` render exactly what the bot sends."""

from __future__ import annotations

import pytest
from flow_helpers import button, walk_to

from engine.definitions import Definitions
from engine.preview import preview_all
from engine.rates.offline import create_offline_rates


def as_screen(text: str, keyboard) -> str:
    lines = [text]
    for row in keyboard:
        lines.append("  ".join(f"[{label} | <intent>:{data}]" for label, data in row))
    return "\n".join(lines)


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize(("give", "get"), [("RUB", "USDT"), ("USDT", "IDR"), ("RUB", "IDR")])
async def test_preview_equals_the_dialog(make_chat, definitions: Definitions, locale: str,
                                         give: str, get: str) -> None:
    rates = create_offline_rates(definitions.config)
    result = await preview_all(definitions, {"rates": rates})
    await rates.close()
    assert result.problems == []
    case = f"{give}→{get}"
    previews = {
        s.step: as_screen(s.text, s.keyboard) for s in result.screens
        if s.locale == locale and s.case in ("", give, case)
    }
    chat = make_chat(language=locale)
    await chat.send("/admin_bot")
    await chat.click(button(give))
    await chat.click(button(get))
    await chat.send("2")  # the preview's samples: the middle preset, 1000 × the minimum
    await chat.send("1000")
    steps = ["source", "target", "margin", "amount", "result"]
    assert chat.transcript == [previews[step] for step in steps]


@pytest.mark.parametrize("locale", ["ru", "en"])
async def test_preview_of_an_error_on_the_result_card_equals_the_dialog(
    make_chat, definitions: Definitions, locale: str
) -> None:
    """A kept card with ``input`` has its error variants in the preview, as the bot sends them."""
    rates = create_offline_rates(definitions.config)
    result = await preview_all(definitions, {"rates": rates})
    await rates.close()
    [preview] = [
        as_screen(s.text, s.keyboard) for s in result.screens
        if s.locale == locale and s.step == "result" and s.case == "error:not_a_number"
    ]
    chat = make_chat(language=locale)
    await walk_to(chat, "result")
    await chat.send("<b>12abc</b>")  # the preview's sample input
    assert chat.transcript[-1] == preview
