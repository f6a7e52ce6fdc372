"""Telegram's HTML parse mode as the server applies it: text + entities, or Telegram's error.

Modelled on TDLib's ``parse_html`` (the code behind the Bot API): the same supported tags,
the same error texts ("Unsupported start tag \\"x\\" at byte offset N", "Can't find end tag
corresponding to start tag \\"b\\"", ...), byte offsets in UTF-8, entity offsets and lengths in
UTF-16 code units, leading and trailing whitespace trimmed from the result.

One deliberate difference: TDLib passes a bare ``&`` (or an unknown ``&name;``) through as
text, while the Bot API documentation says every ``&`` that is not part of an entity *must*
be escaped. The fake follows the documentation (``strict_ampersand=True``) so an unescaped
``&`` is caught in tests rather than relied upon; the error text for it is therefore the
fake's own, in Telegram's style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,8}));")
_ATTR_NAME = re.compile(r"[a-zA-Z0-9_-]+")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str()`` is the part after "can't parse entities: "."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the output where the entity starts


@dataclass
class _Out:
    parts: list[str] = field(default_factory=list)
    length: int = 0  # in UTF-16 units

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)


def parse_html(
    source: str, *, strict_ampersand: bool = True
) -> tuple[str, list[dict[str, object]]]:
    """``source`` in HTML parse mode → (visible text, entities).

    Raises:
        HtmlParseError: what Telegram would answer, after "Bad Request: can't parse entities: ".
    """
    out = _Out()
    stack: list[_Open] = []
    entities: list[dict[str, object]] = []
    i, n = 0, len(source)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    while i < n:
        char = source[i]
        if char == "&":
            match = _ENTITY.match(source, i)
            decoded = _decode(match) if match else None
            if decoded is not None and match is not None:
                out.add(decoded)
                i = match.end()
                continue
            if strict_ampersand:
                raise HtmlParseError(
                    f'Unescaped "&" at byte offset {byte_offset(i)}: write it as &amp;'
                )
            out.add(char)
            i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = i
        if i + 1 < n and source[i + 1] == "/":
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            end = source.find(">", i + 2)
            if end == -1:
                raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            name = source[i + 2 : end].lower()
            if name and name != stack[-1].tag:
                raise HtmlParseError(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                    f'expected "</{stack[-1].tag}>", found "</{name}>"'
                )
            opened = stack.pop()
            entity = _entity(opened, out.length)
            if entity is not None:
                entities.append(entity)
            i = end + 1
            continue
        j = i + 1
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        name = source[i + 1 : j].lower()
        if name not in ENTITY_TYPES:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}'
            )
        attrs, j = _attributes(source, j, name, byte_offset(begin))
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        stack.append(_Open(name, attrs, out.length))
        i = j + 1
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (_int(e["offset"]), -_int(e["length"])))
    return _trim("".join(out.parts), entities)


def _decode(match: re.Match[str]) -> str | None:
    dec, hexa, name = match.groups()
    if name is not None:
        return NAMED.get(name)
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _attributes(source: str, j: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse ``name="value"`` pairs up to ``>``; return them and the index of ``>``."""
    attrs: dict[str, str] = {}
    n = len(source)
    while True:
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        if source[j] == ">":
            return attrs, j
        match = _ATTR_NAME.match(source, j)
        if match is None:
            raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        attr = match.group().lower()
        j = match.end()
        while j < n and source[j].isspace():
            j += 1
        if j < n and source[j] != "=":
            attrs[attr] = ""  # a valueless attribute, e.g. <blockquote expandable>
            continue
        j += 1
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        if source[j] in "\"'":
            quote = source[j]
            close = source.find(quote, j + 1)
            if close == -1:
                raise HtmlParseError(
                    f'Unclosed end of attribute value in the tag "{tag}" at byte offset {begin}'
                )
            value, j = source[j + 1 : close], close + 1
        else:
            start = j
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            value = source[start:j]
        attrs[attr] = re.sub(r"&(lt|gt|amp|quot);", lambda m: NAMED[m.group(1)], value)


def _entity(opened: _Open, end: int) -> dict[str, object] | None:
    length = end - opened.offset
    if length <= 0:
        return None  # Telegram drops empty entities
    entity: dict[str, object] = {
        "type": ENTITY_TYPES[opened.tag],
        "offset": opened.offset,
        "length": length,
    }
    if opened.tag == "a":
        href = opened.attrs.get("href")
        if not href:
            return None
        entity["url"] = href
    if opened.tag == "tg-emoji":
        entity["custom_emoji_id"] = opened.attrs.get("emoji-id", "")
    if opened.tag == "code" and opened.attrs.get("class", "").startswith("language-"):
        entity["type"] = "pre"
        entity["language"] = opened.attrs["class"].removeprefix("language-")
    return entity


def _trim(text: str, entities: list[dict[str, object]]) -> tuple[str, list[dict[str, object]]]:
    """Telegram strips leading and trailing whitespace; entities are cut to what remains."""
    stripped = text.strip()
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, object]] = []
    for entity in entities:
        start = max(_int(entity["offset"]) - lead, 0)
        stop = min(_int(entity["offset"]) + _int(entity["length"]) - lead, total)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value
