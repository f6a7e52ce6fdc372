"""Quote numbers: the short code a card shows, also written in the journal.

Six characters of Crockford's base32 (digits and capitals without I, L, O, U), drawn
from :mod:`secrets`: 32**6 ≈ 1.07e9 codes, easy to read aloud and to type back, never
mistaken for a rate or an amount. Two quotes of one day share a number about once in
2 000 days at 1 000 quotes a day, but over a year of such days a few dozen numbers repeat:
a number names a quote together with its day, and the journal keys its rows by an id of
its own (a retried write stays one row), never by the number alone.
"""

from __future__ import annotations

import secrets

#: Crockford's base32 alphabet: no I, L, O or U, so no code reads as 1, 0 or a word.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 6


def new_quote_number() -> str:
    """A fresh random quote number, e.g. ``"K7M2QX"``."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def is_quote_number(text: str) -> bool:
    """Whether ``text`` has the shape of a quote number (case-insensitive)."""
    return len(text) == LENGTH and all(char in ALPHABET for char in text.upper())
