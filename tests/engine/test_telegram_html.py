"""Telegram's HTML rules and limits as ``check`` applies them, each pinned to the TDLib code.

References are to ``td/telegram/MessageEntity.cpp`` (``parse_html``, ``decode_html_entity``,
``fix_formatted_text``), ``td/telegram/MessageContent.cpp`` (message length for bots),
``td/telegram/SynchronousRequests.cpp`` (``parseTextEntities``) and
``td/telegram/misc.cpp`` (``clean_input_string``, ``is_empty_string``) of tdlib/td.
"""

from __future__ import annotations

import pytest
from aiogram_dialog.api.entities.stack import id_to_str

from engine.telegram import (
    INTENT_ID_MAX_LEN,
    MAX_CALLBACK_ANSWER,
    MAX_COMMAND_DESCRIPTION,
    MAX_SOURCE,
    MAX_TEXT,
    HtmlProblem,
    TelegramTextError,
    callback_data_size,
    check_bot_command,
    check_html,
    check_plain_text,
    fix_formatted_text,
    parse_html,
)

TAGS = "<b>, <i>, <u>, <s>, <code>, <pre>, <a>, <blockquote> or <tg-spoiler>"


def telegram_error(text: str) -> str:
    """Telegram's own words for ``text`` (what follows "can't parse entities: ")."""
    with pytest.raises(TelegramTextError) as caught:
        fix_formatted_text(parse_html(text))
    return str(caught.value)


def visible(text: str) -> str:
    return fix_formatted_text(parse_html(text)).text


@pytest.mark.parametrize(
    ("text", "shown", "rule"),
    [
        ("2 > 1", "2 > 1", "parse_html: only '<' starts a tag; '>' in text is a character"),
        ("AT&T rocks", "AT&T rocks", "decode_html_entity returns 0 → the '&' is kept as text"),
        ("&nbsp;x", "&nbsp;x", "decode_html_entity: named entities are only lt, gt, amp, quot"),
        ("&lt;b&gt; &amp &quot", '<b> & "', "decode_html_entity: the ';' is optional"),
        ("&#8364; &#x20AC;", "€ €", "decode_html_entity: decimal and lowercase-x hex"),
        (
            "&#X41; &#0; &#1114111;",
            "&#X41; &#0; &#1114111;",
            "decode_html_entity: only lowercase 'x'; 0 and >= 0x10ffff are not decoded",
        ),
        ("&#000000065;", "&#000000065;", "decode_html_entity: end_pos - pos >= 10 → literal"),
        ('<b class="x">b</b>', "b", "parse_html: attributes other than the known ones ignored"),
        ("<B>b</B>", "b", "parse_html: tag names are lowercased (to_lower)"),
        ("<b>x</>", "x", "parse_html: an empty end tag name closes the innermost tag"),
        ("<b >x</b >", "x", "parse_html: spaces before '>' in start and end tags"),
        ("<a href=t.me>l</a>", "l", "parse_html: a name token of letters, digits, '.', '-'"),
        ('<span class="tg-spoiler">s</span>', "s", "parse_html: span with class tg-spoiler"),
        ("<blockquote expandable>q</blockquote>", "q", "parse_html: valueless expandable"),
        (
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
            "👍",
            "parse_html: tg-emoji with to_integer_safe<int64> != 0",
        ),
        ("<tg-emoji></tg-emoji>x", "x", "parse_html: emoji-id checked only for non-empty tags"),
        (
            '<tg-time unix="1647531900" format="wDT">22:45</tg-time>',
            "22:45",
            "Bot API 9.5 tg-time, format r|w?[dD]?[tT]?",
        ),
        ("<b><i>nested</i> <u>x</u></b>", "nested x", "parse_html: any properly nested tags"),
        ('<pre><code class="language-python">x</code></pre>', "x", "parse_html: pre + code"),
        ("  <b>x</b>  \n", "x", "fix_formatted_text: trailing and leading ' ' and '\\n' cut"),
        ("a\r\nb\tc", "a\nb c", "clean_input_string: '\\r' dropped, control chars → ' '"),
    ],
)
def test_accepted(text: str, shown: str, rule: str) -> None:
    assert check_html(text) == [], rule
    assert visible(text) == shown, rule


@pytest.mark.parametrize(
    ("text", "telegram", "message", "fragment"),
    [
        # parse_html: the list of supported start tags
        (
            "<div>x</div>",
            'Unsupported start tag "div" at byte offset 0',
            f"<div> is not a tag Telegram knows; use {TAGS}",
            "<div>",
        ),
        (
            "ok <p class='x'>y",
            'Unsupported start tag "p" at byte offset 3',
            f"<p class='x'> is not a tag Telegram knows; use {TAGS}",
            "<p class='x'>",
        ),
        (
            "1 < 2",
            'Unsupported start tag "" at byte offset 2',
            'a "<" that does not start a tag must be written &lt;',
            "< 2",
        ),
        (
            "<br/>",
            'Unsupported start tag "br/" at byte offset 0',
            "<br/> is not a tag Telegram knows; for a line break, start a new line",
            "<br/>",
        ),
        (
            "<!-- c -->x",
            'Unsupported start tag "!--" at byte offset 0',
            "<!-- c --> is not allowed: Telegram has no HTML comments; use a template comment "
            "{# … #} instead",
            "<!-- c -->",
        ),
        # parse_html: span must carry class "tg-spoiler" (argument == "spoiler")
        (
            "<span>x</span>",
            'Tag "span" must have class "tg-spoiler" at byte offset 0',
            '<span> is not allowed: the only <span> Telegram knows is <span class="tg-spoiler"> '
            "(or write <tg-spoiler>)",
            "<span>",
        ),
        (
            'é <span class="spoiler">x</span>',
            'Tag "span" must have class "tg-spoiler" at byte offset 3',  # bytes, not characters
            '<span class="spoiler"> is not allowed: the only <span> Telegram knows is '
            '<span class="tg-spoiler"> (or write <tg-spoiler>)',
            '<span class="spoiler">',
        ),
        # parse_html: a name token is is_alnum, '.', '-' and must end at a space or '>'
        (
            "<a href=https://x>l</a>",
            "Unexpected end of name token at byte offset 8",
            'in <a href=https://x> the value https://x must be in quotes: write href="https://x"',
            "<a href=https://x>",
        ),
        (
            "<a href=t.me/x>l</a>",
            "Unexpected end of name token at byte offset 8",
            'in <a href=t.me/x> the value t.me/x must be in quotes: write href="t.me/x"',
            "<a href=t.me/x>",
        ),
        # parse_html: tg-emoji → to_integer_safe<int64>(emoji-id), error or 0 refused
        (
            "<tg-emoji>😀</tg-emoji>",
            "Invalid custom emoji identifier specified",
            '<tg-emoji> needs emoji-id="…" with the custom emoji\'s number, e.g. '
            'emoji-id="5368324170671202286"',
            "<tg-emoji>",
        ),
        (
            '<tg-emoji emoji-id="0">😀</tg-emoji>',
            "Invalid custom emoji identifier specified",
            '<tg-emoji emoji-id="0"> needs emoji-id="…" with the custom emoji\'s number, e.g. '
            'emoji-id="5368324170671202286"',
            '<tg-emoji emoji-id="0">',
        ),
        (
            '<tg-emoji emoji-id="+5">😀</tg-emoji>',
            "Invalid custom emoji identifier specified",
            '<tg-emoji emoji-id="+5"> needs emoji-id="…" with the custom emoji\'s number, e.g. '
            'emoji-id="5368324170671202286"',
            '<tg-emoji emoji-id="+5">',
        ),
        # parse_html: need_recheck_utf8 → check_utf8 fails for any decoded surrogate
        (
            "x &#55357;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
            "&#55357; is half of a character (a UTF-16 surrogate) and Telegram refuses it; write "
            "the character itself or its full number",
            "&#55357;",
        ),
        (
            "&#xd83d;&#xde00;",
            "Text contains invalid Unicode characters after decoding HTML "
            "entities, check for unmatched surrogate code units",
            "&#xd83d; is half of a character (a UTF-16 surrogate) and Telegram refuses it; write "
            "&#128512; instead",
            "&#xd83d;",
        ),
        # parse_html: end of text inside a tag
        (
            "x <b",
            "Unclosed start tag at byte offset 2",
            '<b is not finished: a tag ends with ">" (for "<" itself, write &lt;)',
            "<b",
        ),
        (
            "x <b class",
            'Unclosed start tag "b" at byte offset 2',
            '<b class is not finished: a tag ends with ">" (for "<" itself, write &lt;)',
            "<b class",
        ),
        (
            '<a href="x>y',
            "Unclosed start tag at byte offset 0",
            'in <a href="x> a value opens with " but never closes; add the "',
            '<a href="x>',
        ),
        (
            "<b />",
            'Empty attribute name in the tag "b" at byte offset 0',
            '<b /> is not a tag Telegram can read: attributes are written name="value", and a tag '
            'cannot close itself with "/"',
            "<b />",
        ),
        # parse_html: end tags
        (
            "x</b>",
            "Unexpected end tag at byte offset 1",
            "</b> closes a tag that is not open; remove it or add the opening tag",
            "</b>",
        ),
        (
            "<b>x</b y>",
            "Unclosed end tag at byte offset 4",
            "</b y> is not a closing tag Telegram can read; write </b>",
            "</b y>",
        ),
        (
            "<b><i>x</b></i>",
            'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
            "</b> comes where </i> is expected: close tags in the reverse order of opening, e.g. "
            "<b><i>…</i></b>",
            "</b>",
        ),
        (
            "<b>a <i>x",
            'Can\'t find end tag corresponding to start tag "i"',
            "<i> is never closed; add </i> where it should end",
            "<i>",
        ),
        # Bot API 9.5 tg-time (documented; newer than the TDLib source read)
        (
            '<tg-time unix="soon">x</tg-time>',
            "Invalid date-time unix time specified",
            '<tg-time unix="soon"> needs unix="…" with a Unix time in seconds, e.g. '
            'unix="1647531900"',
            '<tg-time unix="soon">',
        ),
        (
            '<tg-time unix="1" format="Dw">x</tg-time>',
            "Invalid date-time format specified",
            '<tg-time unix="1" format="Dw"> needs a format of "r", or w, d or D, t or T in that '
            'order (e.g. format="wDT"), or no format',
            '<tg-time unix="1" format="Dw">',
        ),
        # fix_formatted_text / is_empty_string: nothing visible left
        ("", "Text must be non-empty", "", None),
        ("<b> \n </b>", "Text must be non-empty", "", None),
        ("\u200b\u00a0", "Text must be non-empty", "", None),
    ],
)
def test_refused(text: str, telegram: str, message: str, fragment: str | None) -> None:
    assert telegram_error(text) == telegram
    if fragment is None:
        message = (
            "the message is empty: after formatting nothing visible is left (only tags, spaces "
            "or invisible characters); Telegram refuses empty messages"
        )
    assert check_html(text) == [HtmlProblem(message, fragment)]
    if fragment is not None:
        assert fragment in text  # findable in the template that wrote it


def test_first_error_only_as_telegram_stops_there() -> None:
    # parse_html returns at its first error; the surrogate recheck comes after the end tags.
    assert [p.fragment for p in check_html("&#55357; <div> <b>")] == ["<div>"]
    assert [p.fragment for p in check_html("&#55357; <b>")] == ["<b>"]


def test_length_counts_code_points_after_parsing_and_trimming() -> None:
    # MessageContent.cpp: utf8_length(text) > message_text_length_max → "Message is too long"
    assert check_html("<b>" + "x" * MAX_TEXT + "</b>\n\n") == []
    assert check_html("💵" * MAX_TEXT) == []  # 8192 UTF-16 units, 4096 characters
    too_long = [
        HtmlProblem(
            f"the message is {MAX_TEXT + 1} characters after formatting; Telegram allows at most "
            f"{MAX_TEXT}: shorten it or split it into several messages"
        )
    ]
    assert check_html("💵" * (MAX_TEXT + 1)) == too_long
    assert check_html("&lt;" * (MAX_TEXT + 1)) == too_long  # counted after decoding


def test_source_limit_before_parsing() -> None:
    # SynchronousRequests::do_request(parseTextEntities): utf8_length(text) > 65536
    assert telegram_error("<b></b>" * (MAX_SOURCE // 7) + "x" * 8) == "Text is too long"
    assert check_html("<b></b>" * (MAX_SOURCE // 7) + "x") == []


def test_broken_character_in_a_value_is_a_problem_not_a_traceback() -> None:
    # parseTextEntities: check_utf8 → "Text must be encoded in UTF-8"
    assert telegram_error("price \ud83d") == "Text must be encoded in UTF-8"
    assert check_html("price \ud83d") == [
        HtmlProblem(
            "the text holds a broken character (U+D83D, half of a UTF-16 pair, often a cut emoji); "
            "Telegram refuses it",
            "\ud83d",
        )
    ]


def test_entities_as_the_bot_api_returns_them() -> None:
    parsed = fix_formatted_text(
        parse_html(
            '  <b>Курс</b>: 😀 <a href="https://t.me/x?a=1&amp;b=2">l</a> <code class="language-py">'
            'c</code> <pre><code class="language-py">p</code></pre>\n'
        )
    )
    assert parsed.text == "Курс: 😀 l c p"
    assert [e.as_dict() for e in parsed.entities] == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 9, "length": 1, "url": "https://t.me/x?a=1&b=2"},
        {"type": "code", "offset": 11, "length": 1},  # a standalone code loses its language
        {"type": "pre", "offset": 13, "length": 1, "language": "py"},
    ]


def test_plain_text_limits() -> None:
    # answerCallbackQuery text: 0-200 characters; setMyCommands description: 1-256.
    assert check_plain_text("", MAX_CALLBACK_ANSWER, allow_empty=True) == []
    assert check_plain_text("💵" * 200, MAX_CALLBACK_ANSWER) == []
    assert check_plain_text("x" * 201, MAX_CALLBACK_ANSWER, what="the pop-up text") == [
        HtmlProblem("the pop-up text is 201 characters; Telegram allows at most 200")
    ]
    assert check_plain_text("  ", MAX_COMMAND_DESCRIPTION, what="the description") == [
        HtmlProblem("the description is empty; Telegram needs at least one character")
    ]
    assert check_bot_command("/rates") == []
    assert check_bot_command("Rates") == [
        HtmlProblem(
            "the command /Rates may use only lowercase English letters, digits and _", "Rates"
        )
    ]
    assert check_bot_command("x" * 33) == [
        HtmlProblem(
            f"the command /{'x' * 33} is 33 characters; Telegram allows at most 32", "x" * 33
        )
    ]


def test_intent_prefix_matches_aiogram_dialog() -> None:
    # new_int_id() < 100 * 10**8; the longest id aiogram-dialog can make:
    assert len(id_to_str(100 * 10**8 - 1)) == INTENT_ID_MAX_LEN
    assert callback_data_size("source:RUB") == INTENT_ID_MAX_LEN + 1 + 10
