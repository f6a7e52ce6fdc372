"""Texts: the sandboxed Jinja environment, locale-aware filters, and per-locale strings.

Layout of ``templates/``::

    templates/<locale>/<name>.j2     one message template per window (Telegram HTML)
    templates/<locale>/strings.yaml  short texts: button labels and input error messages,
                                     each itself a Jinja template

The environment is sandboxed (templates are edited by people who do not write Python),
undefined names fail loudly (``StrictUndefined``) and every value is HTML-escaped
(Telegram HTML parse mode), so user input echoed back cannot inject markup.
Numbers are formatted with Babel for the template's locale: ru ``1 000 000,50``,
en ``1,000,000.50``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_timedelta
from babel.numbers import format_decimal, format_percent
from cachetools import LRUCache
from jinja2 import FileSystemLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import EngineError

TEMPLATE_SUFFIX = ".j2"
STRINGS_FILE = "strings.yaml"


class TemplateNotFoundError(EngineError):
    """A window or string names a template that does not exist for a locale."""


def _as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@cache
def _pattern(decimals: int, grouped: bool = True) -> str:
    whole = "#,##0" if grouped else "0"
    return whole + "." + "0" * decimals if decimals > 0 else whole


def format_number(
    value: Any, locale: str, decimals: int | None = None, *, grouped: bool = True
) -> str:
    """``value`` with locale separators and exactly ``decimals`` decimals; without
    thousands separators when not ``grouped`` (a number to copy: ``1149,42``).

    With ``decimals=None`` the value's own exponent is kept (``Decimal('0.005654')`` shows six
    decimals): callers round explicitly before formatting, this never rounds again.
    """
    number = _as_decimal(value)
    if decimals is None:
        exponent = number.as_tuple().exponent
        decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return format_decimal(number, format=_pattern(decimals, grouped), locale=locale)


def format_percent_value(value: Any, locale: str) -> str:
    """``2.5`` (percent points) → ru ``2,5 %``, en ``2.5%``."""
    return format_percent(_as_decimal(value) / 100, locale=locale, decimal_quantization=False)


def format_age(seconds: Any, locale: str) -> str:
    """A rate's age, e.g. ru ``12 секунд``, en ``3 minutes``."""
    return format_timedelta(
        timedelta(seconds=float(seconds)), locale=locale, threshold=1.5, granularity="second"
    )


@pass_context
def _money(ctx: Context, value: Any, decimals: int | None = None) -> str:
    return format_number(value, ctx["locale"], decimals)


@pass_context
def _plain(ctx: Context, value: Any, decimals: int | None = None) -> str:
    return format_number(value, ctx["locale"], decimals, grouped=False)


@pass_context
def _rate(ctx: Context, value: Any) -> str:
    return format_number(value, ctx["locale"])


@pass_context
def _percent(ctx: Context, value: Any) -> str:
    return format_percent_value(value, ctx["locale"])


@pass_context
def _age(ctx: Context, value: Any) -> str:
    return format_age(value, ctx["locale"])


def create_environment(folder: Path) -> ImmutableSandboxedEnvironment:
    """The Jinja environment of one locale's folder (``{% include "_header.j2" %}`` works)."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(money=_money, plain=_plain, rate=_rate, percent=_percent, age=_age)
    return env


class Renderer:
    """Renders window templates and strings for a locale.

    Args:
        templates_dir: the folder holding one sub-folder per locale.
        strings: ``{locale: {section: {key: template text}}}`` (from strings.yaml).
    """

    def __init__(
        self,
        templates_dir: Path,
        strings: Mapping[str, Mapping[str, Mapping[str, str]]],
    ) -> None:
        self.envs = {locale: create_environment(templates_dir / locale) for locale in strings}
        # Every template compiled now and never read again (auto_reload is off, the cache
        # unbounded): a running bot serves the templates that were checked, even once a file
        # is edited; the edit reaches it by a reload, checked first (engine.reload).
        for env in self.envs.values():
            for name in env.list_templates(extensions=[TEMPLATE_SUFFIX.lstrip(".")]):
                env.get_template(name)
        self._strings: dict[tuple[str, str, str], Template] = {}
        self._string_cache: LRUCache[tuple[Any, ...], str] = LRUCache(maxsize=4096)
        for locale, sections in strings.items():
            for section, texts in sections.items():
                for key, text in texts.items():
                    self._strings[(locale, section, key)] = self.envs[locale].from_string(text)

    @property
    def locales(self) -> list[str]:
        return list(self.envs)

    def window(self, locale: str, name: str, context: Mapping[str, Any]) -> str:
        """Render ``templates/<locale>/<name>.j2``; surrounding whitespace is trimmed."""
        template = self.envs[locale].get_template(f"{name}{TEMPLATE_SUFFIX}")
        return template.render({**context, "locale": locale}).strip()

    def string(self, locale: str, section: str, key: str, context: Mapping[str, Any]) -> str:
        """Render one entry of ``strings.yaml``.

        Button labels are rendered for every window shown, with the same few contexts
        (a currency, a preset): results are memoised per context when its values are
        hashable. Strings are pure functions of their context (sandboxed, no clock).
        """
        try:
            frozen = (locale, section, key, tuple(sorted(context.items())))
            hash(frozen)
        except TypeError:
            return self._render_string(locale, section, key, context)
        cached = self._string_cache.get(frozen)
        if cached is None:
            cached = self._string_cache[frozen] = self._render_string(
                locale, section, key, context
            )
        return cached

    def _render_string(
        self, locale: str, section: str, key: str, context: Mapping[str, Any]
    ) -> str:
        try:
            template = self._strings[(locale, section, key)]
        except KeyError:
            raise TemplateNotFoundError(
                f"{locale}/{STRINGS_FILE}: {section}.{key} is not defined"
            ) from None
        return template.render({**context, "locale": locale}).strip()

    def has_string(self, locale: str, section: str, key: str) -> bool:
        return (locale, section, key) in self._strings
