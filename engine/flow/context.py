"""What a window's template sees: the dialog data plus config facts, for one locale.

Pure: the aiogram getter and ``crypto-helper check`` previews both call
:func:`window_context`, so a preview shows exactly what the bot will send.

Variables: ``locale``; ``currencies`` (code → code, emoji, name, decimals, kind); every
``save_as`` of the flow (``None`` until chosen); ``limits`` on input steps (min, max,
max_decimals, unit); ``error`` (the rendered input error or ``None``); ``quote`` (after
``compute_quote``) or ``None``; ``valid_until`` with a quote (:func:`valid_until`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from engine.config.models import AppConfig
from engine.flow.parse import NumberRule
from engine.flow.schema import FlowConfig, StepConfig
from engine.render import Renderer

ERROR_KEY = "error"
INPUT_ECHO_LIMIT = 24


@dataclass(frozen=True, slots=True)
class Limits:
    """An input step's accepted range, for the parser and for templates."""

    rule: NumberRule
    unit: str

    def as_context(self) -> dict[str, Any]:
        return {
            "min": self.rule.min,
            "max": self.rule.max,
            "max_decimals": self.rule.max_decimals,
            "unit": self.unit,
        }


def input_limits(step: StepConfig, config: AppConfig, data: Mapping[str, Any]) -> Limits:
    """The rule for an input step; an amount takes its currency's limits from config.
    ``data`` holds the answers (with the flow's defaults: :meth:`FlowConfig.answers`)."""
    spec = step.input
    assert spec is not None
    if spec.type == "amount":
        code = str(data.get(spec.currency_key(data) or "", ""))
        cur = config.currency(code)
        rule = NumberRule(
            min=spec.min if spec.min is not None else cur.min_amount,
            max=spec.max if spec.max is not None else cur.max_amount,
            max_decimals=spec.max_decimals if spec.max_decimals is not None else cur.decimals,
        )
        return Limits(rule, code)
    rule = NumberRule(spec.min, spec.max, spec.max_decimals, allow_percent=spec.type == "percent")
    return Limits(rule, "%" if spec.type == "percent" else "")


def currencies_context(config: AppConfig, locale: str) -> dict[str, dict[str, Any]]:
    return {
        c.code: {
            "code": c.code,
            "emoji": c.emoji,
            "name": c.name.get(locale, c.code),
            "decimals": c.decimals,
            "kind": c.kind,
        }
        for c in config.currencies
    }


def error_text(
    renderer: Renderer, locale: str, error: Mapping[str, Any], limits: Limits | None
) -> Markup:
    """Render a stored input error (``{code, params, input}``) in ``locale``."""
    params: dict[str, Any] = dict.fromkeys(
        ("min", "max", "max_decimals", "max_length", "unit"), ""
    )
    if limits is not None:
        params.update({k: v for k, v in limits.as_context().items() if v is not None})
    params.update({k: _maybe_decimal(v) for k, v in dict(error.get("params", {})).items()})
    params["input"] = str(error.get("input", ""))[:INPUT_ECHO_LIMIT]
    # Already rendered with autoescape: mark it safe so the window does not escape it twice.
    return Markup(renderer.string(locale, "errors", str(error["code"]), params))


def _maybe_decimal(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def valid_until(at: str, config: AppConfig) -> dict[str, Any]:
    """Until when a quote made at ``at`` (UTC, ISO 8601) holds, on the desk's clock
    (``bot.timezone``): ``time`` "14:50", ``date`` "2026-12-01", ``utc_offset`` "UTC+3",
    ``minutes`` (``quote.valid_minutes``)."""
    minutes = config.quote.valid_minutes
    until = (datetime.fromisoformat(at) + timedelta(minutes=minutes)).astimezone(
        ZoneInfo(config.bot.timezone)
    )
    offset = until.utcoffset() or timedelta()
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    zone = f"UTC{hours:+d}" + (f":{abs(rest) // 60:02d}" if rest else "") if offset else "UTC"
    return {
        "time": until.strftime("%H:%M"),
        "date": until.date().isoformat(),
        "utc_offset": zone,
        "minutes": minutes,
    }


def window_context(
    flow: FlowConfig,
    step_id: str,
    config: AppConfig,
    data: Mapping[str, Any],
    locale: str,
    renderer: Renderer,
) -> dict[str, Any]:
    """The template context of ``step_id`` for ``data`` (the JSON-safe dialog data)."""
    step = flow.steps[step_id]
    context: dict[str, Any] = {s.save_as: None for s in flow.steps.values() if s.save_as}
    context.update({"quote": None, "limits": None, ERROR_KEY: None})
    context.update(
        {k: v for k, v in flow.answers(data).items() if not k.startswith("_") and k != ERROR_KEY}
    )
    context["currencies"] = currencies_context(config, locale)
    context["locale"] = locale
    quote = data.get("quote")
    if isinstance(quote, Mapping) and quote.get("at"):
        context["valid_until"] = valid_until(str(quote["at"]), config)
    limits = input_limits(step, config, flow.answers(data)) if step.input is not None else None
    if limits is not None:
        context["limits"] = limits.as_context()
    error = data.get(ERROR_KEY)
    if error:
        context[ERROR_KEY] = error_text(renderer, locale, error, limits)
    return context
