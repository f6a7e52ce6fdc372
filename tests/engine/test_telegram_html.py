"""Telegram's HTML rules and limits, as ``check`` applies them."""

from __future__ import annotations

import pytest
from aiogram_dialog.api.entities.stack import id_to_str

from engine.telegram import INTENT_ID_MAX_LEN, MAX_TEXT, callback_data_size, check_html


@pytest.mark.parametrize("text", [
    "plain", "<b>bold</b> <i>it</i> <code>1</code>", "a &lt; b &amp;&amp; c &gt; d &quot;",
    "&#8364; &#x20AC;", '<a href="https://t.me/x">link</a>', "<b><i>nested</i></b>",
    '<span class="tg-spoiler">s</span>', "<blockquote expandable>q</blockquote>",
])
def test_valid(text: str) -> None:
    assert check_html(text) == []


@pytest.mark.parametrize(("text", "error"), [
    ("<div>x</div>", "tag <div> is not supported by Telegram"),
    ("<b>x", "unclosed <b>"),
    ("<b><i>x</b></i>", "unexpected </b>; expected </i>"),
    ("a & b", "unescaped '&' in text (write it as an entity)"),
    ("&nbsp;", "entity &nbsp; is not supported (use &lt; &gt; &amp; &quot;)"),
    ('<b class="x">x</b>', "attribute 'class' is not allowed on <b>"),
    ("<br/>", "self-closing <br/> is not supported by Telegram"),
    ("<!-- c -->x", "HTML comments are not supported by Telegram"),
    ("   ", "message text is empty"),
])
def test_invalid(text: str, error: str) -> None:
    assert error in check_html(text)


def test_length_counts_visible_utf16_units() -> None:
    assert check_html("<b>" + "x" * MAX_TEXT + "</b>") == []
    assert check_html("x" * (MAX_TEXT + 1)) == [
        f"visible text is {MAX_TEXT + 1} characters; Telegram allows {MAX_TEXT}"]
    # an emoji outside the BMP is two UTF-16 units for Telegram
    assert check_html("💵" * 2049) == ["visible text is 4098 characters; Telegram allows 4096"]


def test_intent_prefix_matches_aiogram_dialog() -> None:
    # new_int_id() < 100 * 10**8; the longest id aiogram-dialog can make:
    assert len(id_to_str(100 * 10**8 - 1)) == INTENT_ID_MAX_LEN
    assert callback_data_size("source:RUB") == INTENT_ID_MAX_LEN + 1 + 10
