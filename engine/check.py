"""``crypto-helper check``: validate everything a person edits, then render every window.

Reports every problem as ``FILE:LINE:COL: path: message`` and exits 2, or prints a one-line
summary and exits 0. Fast on purpose: no aiogram import (``aiogram.types`` alone takes
seconds); previews run against the offline ``static`` provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from jinja2 import TemplateError

from engine.definitions import Definitions, load_definitions
from engine.errors import ConfigError, Problem
from engine.flow.oneline import rejection_text, sample_rejections
from engine.flow.services import FlowServices
from engine.inline import InlineQuotes, line_limit, sample_cases
from engine.journal.texts import string_samples
from engine.preview import PreviewResult, Screen, preview_all
from engine.rates.offline import create_offline_rates
from engine.studio.reach import unreachable_warnings
from engine.telegram import (
    MAX_CALLBACK_ANSWER,
    MAX_CALLBACK_DATA,
    MAX_TEXT,
    HtmlProblem,
    callback_data_size,
    check_html,
    check_plain_text,
)
from engine.texts import REQUIRED_STRINGS

EXPORT_KEYS = REQUIRED_STRINGS["export_columns"]


@dataclass(frozen=True)
class CheckReport:
    problems: list[Problem]  # errors: check fails
    summary: str
    warnings: tuple[Problem, ...] = ()


def _html_problem(defs: Definitions, screen: Screen, html: HtmlProblem) -> Problem:
    """Report ``html`` where the template (or a ``_partial.j2`` of its locale) writes it."""
    where = f"step {screen.step!r} ({screen.case}): {html.message}"
    folder = defs.config.templates_dir / screen.locale
    shown = f"{defs.config.templates_dir.name}/{screen.locale}"
    if html.fragment is None:
        return Problem(f"{shown}/{screen.template}.j2", 1, 1, "", where)
    for path in [folder / f"{screen.template}.j2", *sorted(folder.glob("_*.j2"))]:
        source = path.read_text(encoding="utf-8") if path.is_file() else ""
        at = source.find(html.fragment)
        if at != -1:
            line, col = source.count("\n", 0, at) + 1, at - source.rfind("\n", 0, at)
            return Problem(f"{shown}/{path.name}", line, col, "", where)
    where += " (from a value inserted into the template)"
    return Problem(f"{shown}/{screen.template}.j2", 1, 1, "", where)


def screen_problems(defs: Definitions, screens: Iterable[Screen]) -> list[Problem]:
    """Telegram's limits applied to rendered screens, reported at the template file."""
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for screen in screens:
        file = f"{defs.config.templates_dir.name}/{screen.locale}/{screen.template}.j2"
        for html in check_html(screen.text):
            key = (file, screen.step, html.message)
            if key not in seen:
                seen.add(key)
                problems.append(_html_problem(defs, screen, html))
        for row in screen.keyboard:
            for label, data in row:
                size = callback_data_size(data)
                if size > MAX_CALLBACK_DATA and (file, data, "cb") not in seen:
                    seen.add((file, data, "cb"))
                    problems.append(
                        Problem(
                            file,
                            1,
                            1,
                            f"steps.{screen.step}",
                            f"button {label!r}: callback_data is {size} bytes with "
                            f"aiogram-dialog's prefix; Telegram allows {MAX_CALLBACK_DATA} "
                            "(shorten the step id)",
                        )
                    )
                if not label.strip():
                    problems.append(
                        Problem(
                            file,
                            1,
                            1,
                            f"steps.{screen.step}",
                            f"a button label renders empty ({data})",
                        )
                    )
    return problems


# Notices sent as a pop-up (answerCallbackQuery: plain text, 200 characters), the others
# as messages (HTML, 4096).
POPUP_NOTICES = frozenset({"restarted", "refused"})
# The journal's texts that are not HTML messages: pop-ups and button labels (plain text).
# What an inline text is, in check's messages (the others are the button's).
INLINE_WHAT = {"title": "this result title", "description": "this result description"}
JOURNAL_PLAIN = {"not_found": MAX_CALLBACK_ANSWER, "reopen_button": 64, "off": MAX_CALLBACK_ANSWER}


def string_problems(defs: Definitions) -> list[Problem]:
    """Every notice of ``strings.yaml`` in every locale, rendered and held to the limits of
    where the bot sends it; reported at its line of strings.yaml. (Button labels and input
    errors are rendered inside the windows of the preview.)"""
    config = defs.config
    maps = defs.string_maps
    problems: list[Problem] = []
    for locale in defs.renderer.locales:
        smap = maps.get(locale)
        if smap is None:
            continue
        for key in REQUIRED_STRINGS["notices"]:
            loc = ("notices", key)
            try:
                text = defs.renderer.string(locale, "notices", key, {})
            except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
                problems.append(smap.problem(loc, f"cannot be shown: {exc}"))
                continue
            if key in POPUP_NOTICES:
                found = check_plain_text(
                    text, MAX_CALLBACK_ANSWER, what="this pop-up text", allow_empty=True
                )
            else:
                found = check_html(text)
            problems += [smap.problem(loc, p.message) for p in found]
        for code, rejection in sample_rejections(config).items():
            loc = ("oneline", code)
            try:
                text = rejection_text(defs.renderer, locale, rejection)
            except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
                problems.append(smap.problem(loc, f"cannot be shown: {exc}"))
                continue
            problems += [smap.problem(loc, p.message) for p in check_html(text)]
        problems += journal_string_problems(defs, locale)
        problems += inline_string_problems(defs, locale)
    return problems


def inline_string_problems(defs: Definitions, locale: str) -> list[Problem]:
    """The ``inline`` strings of ``locale`` as an inline query's answer shows them (plain
    text, one line), from sample quotes and refusals, each held to its cap
    (:func:`~engine.inline.line_limit`: the button above the results, a result's title and
    description). (The client's card itself is rendered with the result card's previews.)"""
    smap = defs.string_maps[locale]
    quotes = InlineQuotes(defs.flows[0], defs.config, defs.renderer, cut=False)
    problems: list[Problem] = []
    for key, render in sample_cases(quotes, locale):
        loc = ("inline", key)
        try:
            texts = render()
        except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
            problems.append(smap.problem(loc, f"cannot be shown: {exc}"))
            continue
        what = INLINE_WHAT.get(key, "this button text")
        found = [p for text in texts for p in _line_problems(text, line_limit(key), what)]
        problems += [smap.problem(loc, p.message) for p in dict.fromkeys(found)]
    return problems


def _line_problems(text: str, limit: int, what: str) -> list[HtmlProblem]:
    """A one-line plain text: what Telegram refuses (empty, a broken character), and our
    cap (Telegram documents none; clients show one line)."""
    found = check_plain_text(text, MAX_TEXT, what=what)
    if not found and len(text) > limit:
        found.append(
            HtmlProblem(
                f"{what} is {len(text)} characters; at most {limit} fit on its one line "
                "(a longer one is cut with …): shorten it"
            )
        )
    return found


def journal_string_problems(defs: Definitions, locale: str) -> list[Problem]:
    """The journal's strings (``journal``, ``export_columns``) of ``locale`` rendered with
    what the commands pass; messages held to Telegram's HTML rules, pop-ups and button
    labels to plain text and their length, CSV headers to rendering at all."""
    smap = defs.string_maps[locale]
    problems: list[Problem] = []
    samples = {("journal", k): v for k, v in string_samples(defs.config).items()}
    samples.update(
        {("export_columns", k): {"timezone": defs.config.bot.timezone} for k in EXPORT_KEYS}
    )
    for (section, key), params in samples.items():
        try:
            text = defs.renderer.string(locale, section, key, params)
        except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
            problems.append(smap.problem((section, key), f"cannot be shown: {exc}"))
            continue
        if section == "export_columns":
            found = check_plain_text(text, 200, what="this CSV header")
        elif key in JOURNAL_PLAIN:
            found = check_plain_text(text, JOURNAL_PLAIN[key], what="this text")
        else:
            found = check_html(text)
        problems += [smap.problem((section, key), p.message) for p in found]
    return problems


async def _preview(defs: Definitions) -> PreviewResult:
    rates = create_offline_rates(defs.config)
    try:
        return await preview_all(defs, FlowServices(rates))
    finally:
        await rates.close()


def preview_screens(config_path: str | None = None) -> tuple[list[Problem], list[Screen]]:
    """Every rendered screen, or the problems that prevent rendering."""
    try:
        defs = load_definitions(config_path)
    except ConfigError as exc:
        return exc.problems, []
    result = asyncio.run(_preview(defs))
    return result.problems, result.screens


@dataclass(frozen=True)
class Validation:
    """What :func:`validate` found: the definitions (None when they cannot be loaded),
    every problem, the rendered screens and how long it took."""

    definitions: Definitions | None
    problems: list[Problem]
    screens: list[Screen]
    seconds: float

    @property
    def errors(self) -> list[Problem]:
        """The problems that must be fixed (the others are warnings)."""
        return [p for p in self.problems if not p.warning]


def validate(config_path: str | None = None, *, mute_logs: bool = True) -> Validation:
    """Load, validate and render everything; the one validation of ``check``, ``run`` and
    a reload.

    Never raises for a user's mistake: every problem comes back, sorted, once each.
    ``mute_logs=False`` leaves logging alone: a running bot validating in a thread mutes
    that thread only (:mod:`engine.reload.reloader`), not the process.
    """
    started = time.perf_counter()
    # The engine's own log lines (a provider failing in the preview…) are not for the
    # person running check: what matters comes back as problems.
    if mute_logs:
        logging.disable(logging.CRITICAL)
    try:
        try:
            defs = load_definitions(config_path)
        except ConfigError as exc:
            return Validation(None, sorted(set(exc.problems)), [], time.perf_counter() - started)
        result = asyncio.run(_preview(defs))
    finally:
        if mute_logs:
            logging.disable(logging.NOTSET)
    problems = [
        *defs.warnings,
        *unreachable_warnings(list(zip(defs.config.flows, defs.flows, strict=True))),
        *result.problems,
        *screen_problems(defs, result.screens),
        *string_problems(defs),
    ]
    return Validation(defs, sorted(set(problems)), result.screens, time.perf_counter() - started)


def run_check(config_path: str | None = None) -> CheckReport:
    """Load, validate and render; never raises for a user's mistake."""
    found = validate(config_path)
    warnings = tuple(p for p in found.problems if p.warning)
    if found.definitions is None or found.errors:
        return CheckReport(found.errors, "", warnings)
    config = found.definitions.config
    directions = sum(len(v) for v in config.directions.values())
    steps = sum(len(f.steps) for f in found.definitions.flows)
    summary = (
        f"OK: {len(config.currencies)} currencies, {directions} directions, "
        f"{len(found.definitions.flows)} flow(s) with {steps} steps, {len(config.locales)} "
        f"locales, {len(found.screens)} windows rendered in {found.seconds:.2f} s"
    )
    if warnings:
        summary += f"; {len(warnings)} warning(s) above"
    return CheckReport([], summary, warnings)
