"""Render every window of every flow, in every locale, with sample data and no Telegram.

Walks each flow as an admin would: every option of every choice step (so every direction),
a sample number for each input (a preset, or a round amount within the currency's limits),
the step actions run against the :class:`~engine.flow.services.FlowServices` given (the
offline static provider in ``crypto-helper check``; no origin, so nothing is journalled),
then every input error, every error step and the cancel step.
The keyboard layout mirrors :mod:`engine.flow.builder`; a test keeps the two in step.

:func:`select_screens` is ``crypto-helper preview``'s filter: it forgives how a case is
written (``RUB->USDT``, ``rub - usdt`` and ``RUB→USDT`` are one case) and refuses a locale,
step or case that matches no window with the valid choices, instead of printing nothing.
"""

from __future__ import annotations

import difflib
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, UndefinedError

from engine.config.models import AppConfig
from engine.config.source import did_you_mean, display_path
from engine.definitions import Definitions
from engine.errors import EngineError, Problem
from engine.flow.actions import ACTIONS, ActionContext, ActionFailedError
from engine.flow.buttons import button_id, visible_buttons
from engine.flow.context import ERROR_KEY, input_limits, window_context
from engine.flow.options import option_codes
from engine.flow.schema import FlowConfig
from engine.flow.services import FlowServices
from engine.journal.texts import SAMPLE_NOW, preview_cases, sample_entries
from engine.messages import (
    BOT_TEMPLATES,
    HELP,
    RATES,
    base_context,
    help_context,
    rates_context,
    rates_warnings_sample,
)
from engine.render import TEMPLATE_SUFFIX, Renderer
from engine.texts import REQUIRED_STRINGS

PRESET_SUFFIX = "_preset"
Button = tuple[str, str]  # (label, callback data without the intent prefix)
# "RUB->USDT", "RUB - USDT", "RUB=>USDT", "RUB USDT": the arrow of a direction, however typed.
_ARROW = re.compile(r"\s*(?:->|=>|[→\-–—>/])\s*|\s+")


@dataclass(frozen=True)
class Screen:
    """One rendered window."""

    flow: str
    step: str
    locale: str
    case: str
    text: str
    keyboard: tuple[tuple[Button, ...], ...]
    template: str = ""


@dataclass
class PreviewResult:
    screens: list[Screen] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# The set buttons a walk already took on its path (so fix_receive, fix_give… end).
WALKED_KEY = "_walked"


def _rows(buttons: list[Button], columns: int) -> list[tuple[Button, ...]]:
    return [tuple(buttons[i : i + columns]) for i in range(0, len(buttons), columns)]


def sample_number(
    flow: FlowConfig, step_id: str, config: AppConfig, data: Mapping[str, Any]
) -> str:
    """A plausible value an admin would type at ``step_id``."""
    step = flow.steps[step_id]
    if step.presets:
        return str(step.presets[len(step.presets) // 2])
    rule = input_limits(step, config, flow.answers(data)).rule
    low = rule.min if rule.min is not None and rule.min > 0 else Decimal(1)
    value = low * 1000
    if rule.max is not None and value > rule.max:
        value = rule.max
    return str(value)


class _Previewer:
    def __init__(self, defs: Definitions, services: FlowServices) -> None:
        self.config = defs.config
        self.renderer: Renderer = defs.renderer
        self.services = services
        self.result = PreviewResult()
        self._first: dict[str, dict[str, Any]] = {}
        self._reported: set[tuple[str, int, str, str]] = set()

    def keyboard(
        self, flow: FlowConfig, step_id: str, data: Mapping[str, Any], locale: str
    ) -> tuple[tuple[Button, ...], ...]:
        step = flow.steps[step_id]
        label = self.renderer.string
        rows: list[tuple[Button, ...]] = []
        if step.options is not None:
            cur = window_context(flow, step_id, self.config, data, locale, self.renderer)
            buttons = [
                (
                    label(locale, "buttons", "currency", cur["currencies"][code]),
                    f"{step_id}:{code}",
                )
                for code in option_codes(step.options, self.config, data)
            ]
            rows += _rows(buttons, step.columns)
        if step.presets:
            buttons = [
                (
                    label(locale, "buttons", "preset", {"value": p, "id": str(p)}),
                    f"{step_id}{PRESET_SUFFIX}:{p}",
                )
                for p in step.presets
            ]
            rows += _rows(buttons, step.columns)
        shown = visible_buttons(flow, self.config, step_id, data)
        for names in step.button_rows():
            row: list[Button] = []
            for name in names:
                spec = flow.buttons.get(name)
                if spec is not None and spec.send is not None and spec.locales == "each":
                    row += [
                        (
                            label(locale, "buttons", name, {"locale": loc, "lang": loc.upper()}),
                            button_id(step_id, name, loc),
                        )
                        for loc in self.renderer.locales
                    ]
                elif spec is None or spec.send is not None or name in shown:
                    row.append((label(locale, "buttons", name, {}), button_id(step_id, name)))
            if row:
                rows.append(tuple(row))
        return tuple(rows)

    def render(self, flow: FlowConfig, step_id: str, data: Mapping[str, Any], case: str) -> None:
        for locale in self.renderer.locales:
            template = flow.template_of(step_id)
            context: Mapping[str, Any] = {}
            try:
                context = window_context(flow, step_id, self.config, data, locale, self.renderer)
                text = self.renderer.window(locale, template, context)
                keyboard = self.keyboard(flow, step_id, data, locale)
            except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
                problem = self._render_problem(exc, locale, template, step_id, case, context)
                key = (problem.file, problem.line, type(exc).__name__, str(exc))
                if key not in self._reported:  # one report per mistake, not per direction
                    self._reported.add(key)
                    self.result.problems.append(problem)
                continue
            self.result.screens.append(
                Screen(flow.id, step_id, locale, case, text, keyboard, template)
            )
        self._first.setdefault(step_id, dict(data))

    def _render_problem(
        self,
        exc: Exception,
        locale: str,
        template: str,
        step_id: str,
        case: str,
        context: Mapping[str, Any] | None = None,
        *,
        message: bool = False,
    ) -> Problem:
        path = self.config.templates_dir / locale / f"{template}{TEMPLATE_SUFFIX}"
        line = 1
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename.endswith(TEMPLATE_SUFFIX):
                path, line = Path(frame.filename), frame.lineno or 1
        source_line = _line_of(path, line)
        reason = plain_render_error(exc, context or {}, source_line)
        where = f"message {template!r}" if message else f"step {step_id!r}"
        return Problem(display_path(path), line, 1, "", f"{where} ({case}): {reason}")

    def render_sends(
        self, flow: FlowConfig, step_id: str, data: Mapping[str, Any], case: str
    ) -> None:
        """The messages the step's send buttons send (the client's quote), every locale."""
        for name in flow.steps[step_id].button_names():
            spec = flow.buttons.get(name)
            if spec is None or spec.send is None:
                continue
            for locale in self.renderer.locales:
                context: Mapping[str, Any] = {}
                try:
                    context = window_context(
                        flow, step_id, self.config, data, locale, self.renderer
                    )
                    text = self.renderer.window(locale, spec.send, context)
                except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
                    problem = self._render_problem(
                        exc, locale, spec.send, spec.send, case, context, message=True
                    )
                    key = (problem.file, problem.line, type(exc).__name__, str(exc))
                    if key not in self._reported:
                        self._reported.add(key)
                        self.result.problems.append(problem)
                    continue
                self.result.screens.append(
                    Screen(flow.id, spec.send, locale, case, text, (), spec.send)
                )

    async def walk(self, flow: FlowConfig, step_id: str, data: dict[str, Any], case: str) -> None:
        await self._walk_on(flow, step_id, data, case)
        # A set button that shows this step again with other answers (the amount typed as
        # what the client receives): walk on from there too, once per path, after the
        # usual path (so the first window of each step is the usual one).
        answers = flow.answers(data)
        for name in visible_buttons(flow, self.config, step_id, data):
            spec = flow.buttons[name]
            if spec.set is None or spec.next or spec.actions:
                continue
            before = ",".join(f"{k}={answers.get(k)}" for k in sorted(spec.set))
            after = ",".join(f"{k}={v}" for k, v in sorted(spec.set.items()))
            walked = list(data.get(WALKED_KEY, [before]))
            if after in walked:
                continue
            changed = {**data, **spec.set, WALKED_KEY: [*walked, after]}
            await self.walk(flow, step_id, changed, f"{case}+{name}")

    async def _walk_on(
        self, flow: FlowConfig, step_id: str, data: dict[str, Any], case: str
    ) -> None:
        step = flow.steps[step_id]
        self.render(flow, step_id, data, case)
        self.render_sends(flow, step_id, data, case)
        if step.kind == "choice":
            assert step.options is not None and step.save_as and step.next
            for code in option_codes(step.options, self.config, data):
                label = f"{case}{'→' if case else ''}{code}"
                await self.walk(flow, step.next, {**data, step.save_as: code}, label)
            return
        if step.kind == "input":
            assert step.save_as and step.next
            data = {**data, step.save_as: sample_number(flow, step_id, self.config, data)}
            context = ActionContext(data, self.services)
            try:
                for name in step.actions:
                    await ACTIONS[name](context)
            except ActionFailedError:
                assert step.on_error is not None
                self.render(flow, step.on_error, data, case)
                return
            await self.walk(flow, step.next, data, case)

    async def run(self, flow: FlowConfig) -> None:
        await self.walk(flow, flow.start, {}, "")
        for step_id, step in flow.steps.items():
            if step.input is None:
                continue
            base = self._first.get(step_id, {})
            for code in REQUIRED_STRINGS["errors"]:
                error = {"code": code, "params": {}, "input": "<b>12abc</b>"}
                self.render(flow, step_id, {**base, ERROR_KEY: error}, f"error:{code}")
        full = next((d for d in self._first.values() if "quote" in d), {})
        last = full or max(self._first.values(), key=len, default={})
        for step_id in flow.steps:
            if step_id not in self._first:
                self.render(flow, step_id, last, "sample")

    async def messages(self) -> None:
        """The bot's own messages (/help, /rates, refusal, failure) with live-shaped data."""
        rows = await self.services.rates.snapshot()
        for name in BOT_TEMPLATES:
            for locale in self.renderer.locales:
                cases = [("message", base_context(self.config, locale))]
                if name == HELP:
                    cases = [("message", help_context(self.config, locale))]
                elif name == RATES:
                    context = rates_context(self.config, locale, rows)
                    cases = [("message", context), ("warnings", rates_warnings_sample(context))]
                for case, context in cases:
                    try:
                        text = self.renderer.window(locale, name, context)
                    except (
                        TemplateError,
                        ArithmeticError,
                        TypeError,
                        ValueError,
                        KeyError,
                    ) as exc:
                        self.result.problems.append(
                            self._render_problem(
                                exc, locale, name, name, case, context, message=True
                            )
                        )
                        continue
                    self.result.screens.append(Screen("bot", name, locale, case, text, (), name))


async def preview_all(defs: Definitions, services: FlowServices) -> PreviewResult:
    """Screens of every flow and bot message; rendering failures come back as problems."""
    previewer = _Previewer(defs, services)
    for flow in defs.flows:
        await previewer.run(flow)
    await previewer.messages()
    await journal_messages(previewer)
    return previewer.result


async def journal_messages(previewer: _Previewer) -> None:
    """The journal's messages (/history mine, all, empty; /today with quotes and empty),
    from sample quotes the rates compute, at a fixed time (flow ``journal``)."""
    config, renderer = previewer.config, previewer.renderer
    entries = await sample_entries(config, previewer.services.rates, SAMPLE_NOW)
    for locale in renderer.locales:
        for name, cases in preview_cases(config, locale, entries, SAMPLE_NOW).items():
            for case, context in cases:
                try:
                    text = renderer.window(locale, name, context)
                except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
                    previewer.result.problems.append(
                        previewer._render_problem(
                            exc, locale, name, name, case, context, message=True
                        )
                    )
                    continue
                previewer.result.screens.append(
                    Screen("journal", name, locale, case, text, (), name)
                )


def _line_of(path: Path, line: int) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[line - 1] if 0 < line <= len(lines) else ""


_UNDEFINED = re.compile(r"^'([^']+)' is undefined$")
_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'$")


def plain_render_error(exc: Exception, context: Mapping[str, Any], source_line: str) -> str:
    """Why a template could not be rendered, said without Jinja's internals.

    ``'quot' is undefined`` → "quot is not a variable here; did you mean quote?";
    ``'dict object' has no attribute 'resul'`` → "quote has no resul here; did you mean
    result?" (the variable is read off the template line).
    """
    text = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, UndefinedError):
        undefined = _UNDEFINED.match(text)
        if undefined:
            name = undefined.group(1)
            known = [k for k in context if not k.startswith("_")]
            return f"{name} is not a variable here{did_you_mean(name, known)}"
        missing = _NO_ATTRIBUTE.search(text)
        if missing:
            attribute = missing.group(1)
            owner = re.search(rf"([A-Za-z_][\w.]*)\.{re.escape(attribute)}\b", source_line)
            path = owner.group(1) if owner else "this value"
            value: Any = context
            for part in path.split(".") if owner else ():
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is None and owner:
                return f"{path} has no value here, so {path}.{attribute} cannot be shown"
            keys = list(value) if isinstance(value, Mapping) else []
            return f"{path} has no {attribute} here{did_you_mean(attribute, keys)}"
        return text
    if isinstance(exc, ArithmeticError | ValueError | TypeError):
        return f"a value could not be formatted ({type(exc).__name__}: {text})"
    return text


class PreviewSelectionError(EngineError):
    """A ``--locale``, ``--step`` or ``--case`` that matches no window.

    Its message is one or two plain lines: what matched nothing, then the valid choices.
    """


def case_key(text: str) -> str:
    """How a case is compared: any arrow as ``→``, no spaces around it, case folded."""
    return _ARROW.sub("→", text.strip()).casefold()


def select_screens(
    screens: Sequence[Screen],
    *,
    locale: str | None = None,
    step: str | None = None,
    case: str | None = None,
) -> list[Screen]:
    """The screens of ``locale``, ``step`` and whose case contains ``case``.

    ``EN`` or ``en-GB`` is ``en``; a step is ``amount`` or ``exchange.amount`` (dashes for
    underscores allowed); a case is compared by :func:`case_key`.

    Raises:
        PreviewSelectionError: when a filter, or the filters together, match no screen.
    """
    chosen = list(screens)
    if locale:
        locales = {s.locale: s.locale for s in screens}
        wanted = locale.strip().casefold().replace("_", "-")
        if wanted not in locales:
            wanted = wanted.split("-")[0]
        if wanted not in locales:
            raise _unknown("--locale", locale, wanted, "locales", locales)
        chosen = [s for s in chosen if s.locale == wanted]
    if step:
        wanted = step.strip().casefold().replace("-", "_")
        if not any(wanted in (s.step, f"{s.flow}.{s.step}") for s in screens):
            raise _unknown("--step", step, wanted, "steps", {s.step: s.step for s in screens})
        chosen = [s for s in chosen if wanted in (s.step, f"{s.flow}.{s.step}")]
    if case:
        wanted = case_key(case)
        if not any(wanted in case_key(s.case) for s in screens):
            cases = {case_key(s.case): s.case for s in screens if s.case}
            raise _unknown("--case", case, wanted, "cases", cases)
        matching = [s for s in chosen if wanted in case_key(s.case)]
        if not matching:
            given = " and ".join(
                f"{o} {v!r}" for o, v in (("--locale", locale), ("--step", step)) if v
            )
            here = sorted({s.case for s in chosen if s.case})
            hint = f"cases there: {', '.join(here)}" if here else "no case there; leave out --case"
            raise PreviewSelectionError(f"--case {case!r} matches no window of {given}\n{hint}")
        chosen = matching
    return chosen


def _unknown(
    option: str, typed: str, wanted: str, kind: str, choices: Mapping[str, str]
) -> PreviewSelectionError:
    """``choices`` maps each valid value as compared (like ``wanted``) to how it is shown."""
    close = difflib.get_close_matches(wanted, list(choices), n=1, cutoff=0.6)
    hint = f"; did you mean {choices[close[0]]!r}?" if close else ""
    shown = ", ".join(sorted(set(choices.values())))
    return PreviewSelectionError(
        f"{option} {typed!r} matches nothing{hint}\nvalid {kind}: {shown}"
    )
