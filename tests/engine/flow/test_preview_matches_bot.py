"""``crypto-helper check``/``preview`` render exactly what the bot sends; so does the snapshot
kit (``crypto_helper_windows``), which shows the preview's windows in the format of the
dialog's own snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_helpers import button, walk_to

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow  # walks whole dialogs twice, preview and bot


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize(("give", "get"), [("RUB", "USDT"), ("USDT", "IDR"), ("RUB", "IDR")])
async def test_preview_equals_the_dialog(
    make_chat, crypto_helper_windows, locale: str, give: str, get: str
) -> None:
    case = f"{give}→{get}"
    windows = crypto_helper_windows(ROOT / "config.yaml", locale=locale)
    previews = {
        name.split(".")[1].split(" ")[0]: text
        for name, text in windows.items()
        if name.startswith("exchange.") and name.partition("] ")[2] in ("", give, case)
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
    make_chat, crypto_helper_windows, locale: str
) -> None:
    """A kept card with ``input`` has its error variants in the preview, as the bot sends them."""
    [preview] = crypto_helper_windows(
        ROOT / "config.yaml", locale=locale, step="result", case="error:not_a_number"
    ).values()
    chat = make_chat(language=locale)
    await walk_to(chat, "result")
    await chat.send("<b>12abc</b>")  # the preview's sample input
    assert chat.transcript[-1] == preview
