"""Loading ``templates/<locale>/strings.yaml``: button labels and input error messages.

Every locale must define the same keys; :data:`REQUIRED_STRINGS` are the ones the engine
uses. Each value is a Jinja template rendered with the window's context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from jinja2 import TemplateSyntaxError

from engine.config.source import SourceMap, did_you_mean, load_yaml
from engine.errors import ConfigError, Problem
from engine.render import STRINGS_FILE, create_environment

Strings = dict[str, dict[str, dict[str, str]]]

#: The columns of /export's CSV, in order; their headers are ``export_columns.<name>``.
EXPORT_COLUMNS = (
    "number",
    "time",
    "admin_id",
    "admin",
    "chat_id",
    "give",
    "get",
    "mode",
    "amount_given",
    "amount_received",
    "market_rate",
    "client_rate",
    "margin",
    "sources",
    "rate_age",
    "stale",
    "locale",
    "version",
)

REQUIRED_STRINGS: dict[str, tuple[str, ...]] = {
    "buttons": ("back", "cancel", "new_deal", "retry", "currency", "preset"),
    "errors": (
        "empty",
        "too_long",
        "hidden_characters",
        "foreign_digits",
        "not_a_number",
        "ambiguous",
        "negative",
        "too_small",
        "too_large",
        "too_many_decimals",
    ),
    "notices": (
        "cancelled",
        "nothing_to_cancel",
        "restarted",
        "refused",
        "private_only",
        "too_fast",
        "start_over",
    ),
    "oneline": (
        "understood",
        "unknown_word",
        "missing_amount",
        "missing_currency",
        "unknown_direction",
        "too_many",
    ),
    # Inline quotes (engine.inline): the results' labels and the button above them.
    "inline": (
        "title",
        "description",
        "hint",
        "stranger",
        "unavailable",
        "bad_number",
        "unknown_word",
        "missing_amount",
        "missing_currency",
        "unknown_direction",
        "too_many",
    ),
    # The quote journal (engine.bot.journal_commands).
    "journal": (
        "reopen_button",
        "not_found",
        "unavailable",
        "off",
        "history_usage",
        "export_caption",
        "export_empty",
        "period_bad_date",
        "period_reversed",
        "period_too_long",
        "period_too_many",
    ),
    "export_columns": (
        *EXPORT_COLUMNS,
        "mode_give",
        "mode_receive",
        "yes",
        "no",
    ),
}


def load_strings(
    templates_dir: Path,
    locales: Iterable[str],
    extra: Mapping[str, Iterable[str]] | None = None,
    *,
    unknown_ok: Iterable[str] = (),
) -> tuple[Strings, dict[str, SourceMap], list[Problem]]:
    """Read every locale's strings.yaml; returns the texts, source maps and problems.

    ``extra``: keys required beyond :data:`REQUIRED_STRINGS`, by section (the labels of
    the flows' own buttons, ``buttons.<id>``); ``unknown_ok``: sections whose unknown keys
    are not reported (a flow file could not be read, so its buttons are not known)."""
    lenient = frozenset(unknown_ok)
    required = {
        section: (*keys, *(k for k in (extra or {}).get(section, ()) if k not in keys))
        for section, keys in REQUIRED_STRINGS.items()
    }
    strings: Strings = {}
    maps: dict[str, SourceMap] = {}
    problems: list[Problem] = []
    for locale in locales:
        path = templates_dir / locale / STRINGS_FILE
        try:
            data, smap = load_yaml(path)
        except ConfigError as exc:
            problems += exc.problems
            continue
        maps[locale] = smap
        env = create_environment(templates_dir / locale)
        strings[locale] = {}
        if not isinstance(data, dict):
            problems.append(smap.problem((), "must be a mapping of sections"))
            continue
        for section, texts in data.items():
            if section not in required:
                problems.append(
                    smap.problem(
                        (section,),
                        f"unknown section{did_you_mean(section, required)}",
                        key=True,
                    )
                )
                continue
            if not isinstance(texts, dict):
                problems.append(smap.problem((section,), "must be a mapping of key: text"))
                continue
            strings[locale][section] = {}
            for key, text in texts.items():
                if not isinstance(text, str):
                    problems.append(smap.problem((section, key), "must be text (quote it)"))
                    continue
                if key not in required[section] and section not in lenient:
                    problems.append(
                        smap.problem(
                            (section, key),
                            f"unknown key{did_you_mean(key, required[section])}",
                            key=True,
                        )
                    )
                    continue
                try:
                    env.parse(text)
                except TemplateSyntaxError as exc:
                    problems.append(
                        smap.problem((section, key), f"template syntax error: {exc.message}")
                    )
                    continue
                strings[locale][section][key] = text
        for section, keys in required.items():
            for key in keys:
                if key not in strings[locale].get(section, {}):
                    problems.append(smap.problem((section,), f"missing {section}.{key}", key=True))
    return strings, maps, problems
