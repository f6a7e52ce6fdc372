"""``crypto-helper check``: validate everything a person edits, then render every window.

Reports every problem as ``FILE:LINE:COL: path: message`` and exits 2, or prints a one-line
summary and exits 0. Fast on purpose: no aiogram import (``aiogram.types`` alone takes
seconds); previews run against the offline ``static`` provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from engine.definitions import Definitions, load_definitions
from engine.errors import ConfigError, Problem
from engine.preview import PreviewResult, Screen, preview_all
from engine.rates.offline import create_offline_rates
from engine.telegram import MAX_CALLBACK_DATA, callback_data_size, check_html


@dataclass(frozen=True)
class CheckReport:
    problems: list[Problem]
    summary: str


def screen_problems(defs: Definitions, screens: Iterable[Screen]) -> list[Problem]:
    """Telegram's limits applied to rendered screens, reported at the template file."""
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for screen in screens:
        file = f"{defs.config.templates_dir.name}/{screen.locale}/{screen.template}.j2"
        for message in check_html(screen.text):
            key = (file, screen.step, message)
            if key not in seen:
                seen.add(key)
                problems.append(
                    Problem(file, 1, 1, "", f"step {screen.step!r} ({screen.case}): {message}")
                )
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


async def _preview(defs: Definitions) -> PreviewResult:
    rates = create_offline_rates(defs.config)
    try:
        return await preview_all(defs, {"rates": rates})
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


def validate(config_path: str | None = None) -> Validation:
    """Load, validate and render everything; the one validation of ``check`` and ``run``.

    Never raises for a user's mistake: every problem comes back, sorted, once each.
    """
    started = time.perf_counter()
    try:
        defs = load_definitions(config_path)
    except ConfigError as exc:
        return Validation(None, sorted(set(exc.problems)), [], time.perf_counter() - started)
    result = asyncio.run(_preview(defs))
    problems = result.problems + screen_problems(defs, result.screens)
    return Validation(defs, sorted(set(problems)), result.screens, time.perf_counter() - started)


def run_check(config_path: str | None = None) -> CheckReport:
    """Load, validate and render; never raises for a user's mistake."""
    found = validate(config_path)
    if found.definitions is None or found.problems:
        return CheckReport(found.problems, "")
    config = found.definitions.config
    directions = sum(len(v) for v in config.directions.values())
    steps = sum(len(f.steps) for f in found.definitions.flows)
    summary = (
        f"OK: {len(config.currencies)} currencies, {directions} directions, "
        f"{len(found.definitions.flows)} flow(s) with {steps} steps, {len(config.locales)} "
        f"locales, {len(found.screens)} windows rendered in {found.seconds:.2f} s"
    )
    return CheckReport(found.problems, summary)
