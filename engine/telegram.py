"""What Telegram refuses, found before it gets the chance (``crypto-helper check``, the e2e fake).

Telegram's HTML parse mode is TDLib's ``parse_html`` (``td/telegram/MessageEntity.cpp``,
the code behind the Bot API), followed by ``fix_formatted_text`` and the message length
check. This module follows that code rule by rule, because "looks like HTML" is not what
Telegram accepts: no maintained library implements Telegram's subset, and a general HTML
parser (``html.parser``) refuses what Telegram accepts (``AT&T``, ``2 > 1``) and accepts
what it refuses (``<a href=https://x>``). The rules, each named after the TDLib code:

* ``SynchronousRequests::do_request(parseTextEntities)``: the source must be valid Unicode
  and at most :data:`MAX_SOURCE` (65 536) characters;
* ``decode_html_entity``: only ``&lt; &gt; &amp; &quot;`` and numeric references
  (``&#NNN;``, ``&#xHHH;`` with a lowercase ``x``) are decoded, the ``;`` is optional;
  anything else — a bare ``&``, ``&nbsp;``, ``&#0;``, ``&#1114111;`` or longer — stays as
  literal text; a reference to a UTF-16 surrogate (``&#55357;``) makes the whole text fail;
* ``parse_html``: the tags of :data:`TAGS`, names case-insensitive; attribute names
  case-sensitive, unknown attributes ignored; an unquoted value may hold only ASCII letters,
  digits, ``.`` and ``-``; ``<span>`` needs ``class="tg-spoiler"``; end tags must close the
  innermost open tag (``</>`` closes any); a non-empty ``<tg-emoji>`` needs a non-zero
  integer ``emoji-id``; entities are UTF-16 offsets;
* ``fix_formatted_text``: control characters become spaces, ``\\r`` and a few invisible
  characters are dropped, trailing spaces and newlines are trimmed (leading ones up to the
  first entity); a text with nothing visible left is refused;
* ``MessageContent.cpp`` (bots): at most :data:`MAX_TEXT` (4096) characters — Unicode code
  points, not UTF-16 units — after all of the above.

``<tg-time unix=… format=…>`` (Bot API 9.5) is newer than the TDLib source read for this
module; it follows the Bot API documentation (``format`` matches ``r|w?[dD]?[tT]?``).

Also here: the plain-text limits of the other Telegram fields the bot fills
(:func:`check_plain_text`, :func:`check_bot_command`) and callback_data's byte budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.errors import EngineError

MAX_TEXT = 4096
"""Message text, in code points, after parsing and trimming (``message_text_length_max``)."""
MAX_SOURCE = 65536
"""Text handed to the parser, in code points, before parsing."""
MAX_CALLBACK_DATA = 64
"""Button callback_data, in UTF-8 bytes, including aiogram-dialog's prefix."""
MAX_CALLBACK_ANSWER = 200
"""``answerCallbackQuery`` text (the pop-up or toast after a button press): 0-200 characters."""
MAX_COMMAND = 32
"""``setMyCommands`` command: 1-32 characters of ``a-z``, ``0-9`` and ``_``."""
MAX_COMMAND_DESCRIPTION = 256
"""``setMyCommands`` description: 1-256 characters."""
# aiogram-dialog intent ids are base62 of at most 99*10**8 + 10**8 → 6 characters, then \x1d.
INTENT_ID_MAX_LEN = 6
CALLBACK_PREFIX_BYTES = INTENT_ID_MAX_LEN + 1

# Tag → Bot API entity type (parse_html's list of start tags, plus tg-time from Bot API 9.5).
TAGS: dict[str, str] = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
    "pre": "pre",
    "code": "code",
    "blockquote": "blockquote",
}
TAG_LIST = "<b>, <i>, <u>, <s>, <code>, <pre>, <a>, <blockquote> or <tg-spoiler>"
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_SPACE = frozenset(" \t\r\n\0\v")  # td::is_space; "\0" is also the end of the text
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGIT = frozenset("0123456789")
_HEX = _DIGIT | frozenset("abcdefABCDEF")
_NAME_TOKEN = _ALPHA | _DIGIT | frozenset(".-")
_ATTR_NAME_END = _SPACE | frozenset("=>/\"'")
_DATE_TIME_FORMAT = re.compile(r"r|w?[dD]?[tT]?")
# sort_entities: offset, then longer first, then MessageEntity::get_type_priority.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "date_time": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
# clean_input_string: dropped characters (\r, U+2028..U+202E, three combining vertical lines).
_DROPPED = frozenset("\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u0333\u033f\u030a")
# strip_empty_characters: spaces that count as nothing and characters that are invisible.
_BLANK = frozenset(
    "\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u202f\u205f\u2800\u3000\ufffc"
) | frozenset(map(chr, range(0xE0000, 0xE0080)))
_INVISIBLE = frozenset(" \n\u200b\u200c\u200d\u200e\u200f\u202e\ufeff\u00a0")


@dataclass(frozen=True)
class HtmlProblem:
    """One reason Telegram would refuse a text, in words a template author can act on.

    Attributes:
        message: what is wrong and what to write instead.
        fragment: the exact part of the checked text at fault (``"<div>"``, ``"&#55357;"``),
            to find where the template writes it; ``None`` when the text as a whole is at
            fault (too long, empty).
    """

    message: str
    fragment: str | None = None


class TelegramTextError(EngineError):
    """Telegram refuses the text; ``str()`` is Telegram's own wording, :attr:`problem` ours."""

    def __init__(self, telegram: str, message: str, fragment: str | None = None) -> None:
        super().__init__(telegram)
        self.telegram = telegram
        self.problem = HtmlProblem(message, fragment)


@dataclass(frozen=True)
class Entity:
    """A formatting entity as the Bot API returns it (offset and length in UTF-16 units)."""

    type: str
    offset: int
    length: int
    extra: tuple[tuple[str, str | int], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "offset": self.offset,
            "length": self.length,
            **dict(self.extra),
        }


@dataclass(frozen=True)
class FormattedText:
    """Visible text and its entities, as Telegram stores a message."""

    text: str
    entities: tuple[Entity, ...] = ()


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of entity offsets (not of length limits)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _lower(name: str) -> str:
    """td::to_lower: ASCII letters only."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in name)


def _canonical_int(value: str, bits: int) -> int | None:
    """td::to_integer_safe: the value only if ``value`` is exactly its decimal spelling."""
    if re.fullmatch(r"-?(0|[1-9][0-9]*)", value) is None or value == "-0":
        return None
    number = int(value)
    return number if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1) else None


def decode_html_entity(source: str, pos: int) -> tuple[int, int]:
    """TDLib's ``decode_html_entity`` at ``source[pos] == "&"``: (code point, end) or (0, pos)."""

    def at(k: int) -> str:
        return source[k] if k < len(source) else "\0"

    end, code = pos + 1, 0
    if at(end) == "#":
        end += 1
        if at(end) == "x":
            end += 1
            while at(end) in _HEX:
                code, end = code * 16 + int(at(end), 16), end + 1
        else:
            while at(end) in _DIGIT:
                code, end = code * 10 + int(at(end)), end + 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while at(end) in _ALPHA:
            end += 1
        named = NAMED_ENTITIES.get(source[pos + 1 : end])
        if named is None:
            return 0, pos
        code = ord(named)
    return code, end + 1 if at(end) == ";" else end


@dataclass
class _Open:
    tag: str
    start: int  # index of "<" in the source
    end: int  # index after ">"
    offset: int  # UTF-16 offset in the output
    out_pos: int  # index in the output text
    argument: str = ""
    attrs: dict[str, str] = field(default_factory=dict)


class _HtmlParser:
    """One pass of TDLib's ``parse_html`` over a Python string (one character per step)."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.utf16 = 0
        self.stack: list[_Open] = []
        self.entities: list[Entity] = []
        self.surrogate: tuple[int, int] | None = None  # first &#…; that decoded to a surrogate

    def at(self, i: int) -> str:
        return self.src[i] if i < len(self.src) else "\0"

    def byte(self, i: int) -> int:
        return len(self.src[:i].encode("utf-8", "surrogatepass"))

    def skip_spaces(self, i: int) -> int:
        while self.at(i) != "\0" and self.at(i) in _SPACE:
            i += 1
        return i

    def add(self, char: str) -> None:
        self.out.append(char)
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    def parse(self) -> FormattedText:
        i = 0
        while i < len(self.src):
            char = self.src[i]
            if char == "&":
                code, end = decode_html_entity(self.src, i)
                if code:
                    if 0xD800 <= code <= 0xDFFF and self.surrogate is None:
                        self.surrogate = (i, end)
                    self.add(chr(code))
                    i = end
                    continue
            if char != "<":
                self.add(char)
                i += 1
            elif self.at(i + 1) == "/":
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            opened = self.stack[-1]
            raise TelegramTextError(
                f'Can\'t find end tag corresponding to start tag "{opened.tag}"',
                f"<{opened.tag}> is never closed; add </{opened.tag}> where it should end",
                self.src[opened.start : opened.end],
            )
        if self.surrogate is not None:
            raise self.surrogate_error(*self.surrogate)
        self.entities.sort(key=lambda e: (e.offset, -e.length, _PRIORITY.get(e.type, 50)))
        return FormattedText("".join(self.out), tuple(self.entities))

    def surrogate_error(self, start: int, end: int) -> TelegramTextError:
        high = decode_html_entity(self.src, start)[0]
        low = decode_html_entity(self.src, end)[0] if self.at(end) == "&" else 0
        hint = "write the character itself or its full number"
        if 0xD800 <= high < 0xDC00 and 0xDC00 <= low <= 0xDFFF:
            hint = f"write &#{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)}; instead"
        return TelegramTextError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units",
            f"{self.src[start:end]} is half of a character (a UTF-16 surrogate) and Telegram "
            f"refuses it; {hint}",
            self.src[start:end],
        )

    def fragment(self, start: int) -> str:
        """The tag at ``start`` as written: up to its ">" or, failing that, the end of the line."""
        stop = min(
            (k for k in (self.src.find(">", start), self.src.find("\n", start)) if k != -1),
            default=len(self.src),
        )
        return self.src[start : stop + 1 if self.at(stop) == ">" else stop]

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ">":
            i += 1
        if self.at(i) == "\0":
            raise self.unfinished(begin)
        tag = _lower(self.src[begin + 1 : i])
        if tag not in TAGS:
            raise self.unsupported(begin, tag)
        opened = _Open(tag, begin, begin, self.utf16, len(self.out))
        i = self.attributes(opened, i)
        if tag == "span" and opened.argument != "spoiler":
            raise TelegramTextError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte(begin)}',
                f"{self.fragment(begin)} is not allowed: the only <span> Telegram knows is "
                '<span class="tg-spoiler"> (or write <tg-spoiler>)',
                self.fragment(begin),
            )
        opened.end = i + 1
        self.stack.append(opened)
        return i + 1

    def unfinished(self, begin: int, tag: str = "", quote: str = "") -> TelegramTextError:
        named = f' "{tag}"' if tag else ""
        fragment = self.fragment(begin)
        message = f'{fragment} is not finished: a tag ends with ">" (for "<" itself, write &lt;)'
        if quote:
            message = f"in {fragment} a value opens with {quote} but never closes; add the {quote}"
        return TelegramTextError(
            f"Unclosed start tag{named} at byte offset {self.byte(begin)}", message, fragment
        )

    def unsupported(self, begin: int, tag: str) -> TelegramTextError:
        fragment = self.fragment(begin)
        telegram = f'Unsupported start tag "{tag}" at byte offset {self.byte(begin)}'
        if tag == "":
            message = 'a "<" that does not start a tag must be written &lt;'
        elif tag.startswith("!"):
            message = (
                f"{fragment} is not allowed: Telegram has no HTML comments; use a "
                "template comment {# … #} instead"
            )
        elif tag.rstrip("/") == "br":
            message = f"{fragment} is not a tag Telegram knows; for a line break, start a new line"
        else:
            message = f"{fragment} is not a tag Telegram knows; use {TAG_LIST}"
        return TelegramTextError(telegram, message, fragment)

    def attributes(self, opened: _Open, i: int) -> int:
        """parse_html's attribute loop; returns the index of the tag's ">"."""
        tag = opened.tag
        while self.at(i) != ">":
            i = self.skip_spaces(i)
            if self.at(i) == ">":
                break
            name_start = i
            while self.at(i) not in _ATTR_NAME_END:
                i += 1
            name = self.src[name_start:i]
            if not name:
                fragment = self.fragment(opened.start)
                raise TelegramTextError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self.byte(opened.start)}",
                    f"{fragment} is not a tag Telegram can read: attributes are written "
                    'name="value", and a tag cannot close itself with "/"',
                    fragment,
                )
            i = self.skip_spaces(i)
            if self.at(i) != "=":
                if self.at(i) == "\0":
                    raise self.unfinished(opened.start, tag)
                if tag == "blockquote" and name == "expandable":
                    opened.argument = "1"
                continue
            i = self.skip_spaces(i + 1)
            if self.at(i) == "\0":
                raise self.unfinished(opened.start, tag)
            quote = self.at(i)
            value, i = self.attribute_value(opened, name, i)
            if self.at(i) == "\0":
                raise self.unfinished(opened.start, quote=quote if quote in "\"'" else "")
            self.set_argument(opened, name, value)
        return i

    def attribute_value(self, opened: _Open, name: str, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in "\"'":
            start = i
            while self.at(i) in _NAME_TOKEN:
                i += 1
            if self.at(i) not in _SPACE and self.at(i) != ">":
                stop = i
                while self.at(stop) not in _SPACE and self.at(stop) != ">":
                    stop += 1
                raw, fragment = self.src[start:stop], self.fragment(opened.start)
                raise TelegramTextError(
                    f"Unexpected end of name token at byte offset {self.byte(start)}",
                    f'in {fragment} the value {raw} must be in quotes: write {name}="{raw}"',
                    fragment,
                )
            return _lower(self.src[start:i]), i
        i += 1
        value: list[str] = []
        while self.at(i) != quote and self.at(i) != "\0":
            if self.at(i) == "&":
                code, end = decode_html_entity(self.src, i)
                if code:
                    value.append(chr(code))
                    i = end
                    continue
            value.append(self.at(i))
            i += 1
        return "".join(value), i + 1 if self.at(i) == quote else i

    @staticmethod
    def set_argument(opened: _Open, name: str, value: str) -> None:
        tag = opened.tag
        if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
            opened.argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            opened.argument = value[9:]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            opened.argument = value[3:]
        elif tag == "blockquote" and name == "expandable":
            opened.argument = "1"
        elif tag == "tg-time" and name in ("unix", "format"):
            opened.attrs[name] = value

    def end_tag(self, begin: int) -> int:
        if not self.stack:
            fragment = self.fragment(begin)
            raise TelegramTextError(
                f"Unexpected end tag at byte offset {self.byte(begin)}",
                f"{fragment} closes a tag that is not open; remove it or add the opening tag",
                fragment,
            )
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ">":
            i += 1
        name = _lower(self.src[begin + 2 : i])
        while self.at(i) in _SPACE and self.at(i) != "\0":
            i += 1
        top = self.stack[-1]
        if self.at(i) != ">":
            fragment = self.fragment(begin)
            raise TelegramTextError(
                f"Unclosed end tag at byte offset {self.byte(begin)}",
                f"{fragment} is not a closing tag Telegram can read; write </{top.tag}>",
                fragment,
            )
        if name and name != top.tag:
            raise TelegramTextError(
                f'Unmatched end tag at byte offset {self.byte(begin)}, expected "</{top.tag}>", '
                f'found "</{name}>"',
                f"</{name}> comes where </{top.tag}> is expected: close tags in the reverse "
                f"order of opening, e.g. <b><i>…</i></b>",
                self.src[begin : i + 1],
            )
        if self.utf16 > top.offset:
            self.close(top)
        self.stack.pop()
        return i + 1

    def close(self, opened: _Open) -> None:
        """The entity of a non-empty tag, as parse_html builds it."""
        offset, length = opened.offset, self.utf16 - opened.offset
        tag, argument = opened.tag, opened.argument
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last.offset, last.length) == (offset, length)
        last_type = last.type if last is not None else ""
        if tag == "tg-emoji":
            if not _canonical_int(argument, 64):
                raise self.invalid_attribute(
                    opened,
                    "Invalid custom emoji identifier specified",
                    'emoji-id="…" with the custom emoji\'s number, e.g. '
                    'emoji-id="5368324170671202286"',
                )
            entity = Entity("custom_emoji", offset, length, (("custom_emoji_id", argument),))
        elif tag == "tg-time":
            entity = self.date_time(opened, offset, length)
        elif tag == "a":
            url = argument or "".join(self.out[opened.out_pos :])
            entity = Entity("text_link", offset, length, (("url", url),))
        elif (
            tag == "pre" and same_span and last_type == "code" and last is not None and last.extra
        ):
            self.entities[-1] = Entity("pre", offset, length, last.extra)
            return
        elif tag == "code" and same_span and last_type == "pre" and argument:
            self.entities[-1] = Entity("pre", offset, length, (("language", argument),))
            return
        elif tag == "code":
            # The language of a standalone <code> is dropped at the end of parse_html.
            entity = Entity("code", offset, length, (("language", argument),) if argument else ())
        elif tag == "blockquote" and argument:
            entity = Entity("expandable_blockquote", offset, length)
        else:
            entity = Entity(TAGS[tag], offset, length)
        self.entities.append(entity)

    def date_time(self, opened: _Open, offset: int, length: int) -> Entity:
        unix, fmt = opened.attrs.get("unix", ""), opened.attrs.get("format", "")
        if _canonical_int(unix, 32) is None:
            raise self.invalid_attribute(
                opened,
                "Invalid date-time unix time specified",
                'unix="…" with a Unix time in seconds, e.g. unix="1647531900"',
            )
        if _DATE_TIME_FORMAT.fullmatch(fmt) is None:
            raise self.invalid_attribute(
                opened,
                "Invalid date-time format specified",
                'a format of "r", or w, d or D, t or T in that order '
                '(e.g. format="wDT"), or no format',
            )
        return Entity(
            "date_time", offset, length, (("unix_time", int(unix)), ("date_time_format", fmt))
        )

    def invalid_attribute(self, opened: _Open, telegram: str, needs: str) -> TelegramTextError:
        fragment = self.src[opened.start : opened.end]
        return TelegramTextError(telegram, f"{fragment} needs {needs}", fragment)


def parse_html(source: str) -> FormattedText:
    """``source`` in HTML parse mode → text and entities, as TDLib's ``parse_html`` returns them.

    Raises:
        TelegramTextError: Telegram's reason to refuse (``str()`` is what follows "can't parse
            entities: " in the Bot API's answer).
    """
    for char in source:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise TelegramTextError(
                "Text must be encoded in UTF-8",
                f"the text holds a broken character (U+{ord(char):04X}, half of a UTF-16 pair, "
                "often a cut emoji); Telegram refuses it",
                char,
            )
    if len(source) > MAX_SOURCE:
        raise TelegramTextError(
            "Text is too long",
            f"the text is {len(source)} characters with its tags; Telegram reads at most "
            f"{MAX_SOURCE}",
        )
    parsed = _HtmlParser(source).parse()
    return FormattedText(parsed.text, tuple(_drop_code_language(e) for e in parsed.entities))


def _drop_code_language(entity: Entity) -> Entity:
    return Entity("code", entity.offset, entity.length) if entity.type == "code" else entity


def fix_formatted_text(text: FormattedText) -> FormattedText:
    """What Telegram stores: TDLib's ``fix_formatted_text`` for a message (trim, not empty).

    Raises:
        TelegramTextError: "Text must be non-empty" (the Bot API says "message text is empty").
    """
    cleaned, entities = _clean(text)
    end = len(cleaned.rstrip(" \n"))
    start = min(len(cleaned) - len(cleaned.lstrip(" \n")), end)
    if entities:
        start = min(start, min(e.offset for e in entities))  # ltrim stops at the first entity
    kept = _cut(cleaned, entities, start, end)
    visible = cleaned[start:end]
    if not end or _is_empty(visible):
        raise TelegramTextError(
            "Text must be non-empty",
            "the message is empty: after formatting nothing visible is left (only tags, "
            "spaces or invisible characters); Telegram refuses empty messages",
        )
    return FormattedText(visible, kept)


def _clean(text: FormattedText) -> tuple[str, list[Entity]]:
    """clean_input_string_with_entities: control characters → space, some characters dropped.

    Entities are rebased to string indices of the cleaned text (trimming works on those).
    """
    out: list[str] = []
    index_at: dict[int, int] = {}  # UTF-16 offset in the parsed text → index in the cleaned
    utf16 = 0
    for char in text.text:
        index_at[utf16] = len(out)
        utf16 += 2 if ord(char) > 0xFFFF else 1
        if char in _DROPPED:
            continue
        out.append(" " if ord(char) < 32 and char != "\n" else char)
    index_at[utf16] = len(out)
    entities = [
        Entity(
            e.type, index_at[e.offset], index_at[e.offset + e.length] - index_at[e.offset], e.extra
        )
        for e in text.entities
    ]
    return "".join(out), [e for e in entities if e.length > 0]


def _cut(text: str, entities: list[Entity], start: int, end: int) -> tuple[Entity, ...]:
    """Entities clipped to ``text[start:end]``, back in UTF-16 offsets."""
    kept: list[Entity] = []
    for e in entities:
        first, last = max(e.offset, start), min(e.offset + e.length, end)
        if last > first:
            offset = utf16_len(text[start:first])
            kept.append(Entity(e.type, offset, utf16_len(text[first:last]), e.extra))
    return tuple(kept)


def _is_empty(text: str) -> bool:
    """is_empty_string: nothing but spaces and invisible characters."""
    stripped = "".join(" " if c in _BLANK else c for c in text).strip(" \t\r\n\0\v")
    return all(c in _INVISIBLE for c in stripped)


def check_html(text: str) -> list[HtmlProblem]:
    """Why Telegram would refuse ``text`` sent in HTML parse mode; empty when it would not.

    Telegram stops at the first parse error, so at most one is reported; the length limit
    is checked only on a text that parses.
    """
    try:
        visible = fix_formatted_text(parse_html(text)).text
    except TelegramTextError as exc:
        return [exc.problem]
    if len(visible) > MAX_TEXT:
        return [
            HtmlProblem(
                f"the message is {len(visible)} characters after formatting; Telegram allows at "
                f"most {MAX_TEXT}: shorten it or split it into several messages"
            )
        ]
    return []


def check_plain_text(
    text: str, limit: int, *, what: str = "the text", allow_empty: bool = False
) -> list[HtmlProblem]:
    """A plain-text field against its Telegram limit (counted in characters, after trimming).

    For :data:`MAX_CALLBACK_ANSWER` (``answerCallbackQuery``, ``allow_empty=True``) and
    :data:`MAX_COMMAND_DESCRIPTION` (``setMyCommands``); ``what`` names the field in the
    messages, e.g. ``"the pop-up text"``. No HTML is parsed: tags count as characters.
    """
    broken = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
    if broken is not None:
        return [
            HtmlProblem(
                f"{what} holds a broken character (U+{ord(broken):04X}, half of a "
                "UTF-16 pair, often a cut emoji); Telegram refuses it",
                broken,
            )
        ]
    length = len(text.strip(" \t\r\n\0\v"))
    if length == 0 and not allow_empty:
        return [HtmlProblem(f"{what} is empty; Telegram needs at least one character")]
    if length > limit:
        return [HtmlProblem(f"{what} is {length} characters; Telegram allows at most {limit}")]
    return []


def check_bot_command(command: str) -> list[HtmlProblem]:
    """A ``setMyCommands`` command name: 1-32 of ``a-z 0-9 _`` (a leading "/" is dropped)."""
    name = command.strip(" \t\r\n\0\v").removeprefix("/")
    if not name:
        return [HtmlProblem("the command is empty; Telegram needs 1 to 32 characters")]
    if len(name) > MAX_COMMAND:
        return [
            HtmlProblem(
                f"the command /{name} is {len(name)} characters; Telegram allows at "
                f"most {MAX_COMMAND}",
                command,
            )
        ]
    if re.fullmatch(r"[a-z0-9_]+", name) is None:
        return [
            HtmlProblem(
                f"the command /{name} may use only lowercase English letters, digits and _",
                command,
            )
        ]
    return []


def callback_data_size(data: str) -> int:
    """Bytes Telegram receives for a button's data, with the aiogram-dialog prefix."""
    return CALLBACK_PREFIX_BYTES + len(data.encode("utf-8"))
