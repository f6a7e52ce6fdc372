"""Inline quotes: what an admin's ``@yourbot 1000 rub usdt 2``, typed in any chat, is answered
with (issue 11 §5). Pure: no aiogram; :mod:`engine.bot.inline` sends an
:class:`InlineAnswer` as ``answerInlineQuery``, and ``crypto-helper check`` renders the same
texts with :func:`sample_cases`.

The query is read exactly as a one-line quote (:mod:`engine.flow.oneline`, receive mode
included) and quoted by the main flow's own amount step actions (``compute_quote``: counted
in the metrics, recorded in the journal), so an inline quote, a one-line quote and a dialog
quote cannot differ. What it gives:

* a quote: one article per locale, the admin's first, so the admin picks the client's
  language whatever their own. Its message is the client's card: the template the result
  card's ``send`` button sends (``client.j2``: no margin, no source), in that language, as
  the "for the client" button renders it; its title and description (``inline.title``,
  ``inline.description``, in the article's language) say which language and show the
  client's numbers. Ids are ``<quote number>-<locale>``: unique, far below 64 bytes;
* anything else: no article, only the button above the results, which opens the private
  chat with the bot: ``inline.hint`` for an empty query, what is missing for a query that
  is not understood (``inline.<code>`` of the one-line refusal, or ``inline.bad_number``
  with the dialog's own error for a number out of limits), ``inline.unavailable`` when no
  rate can be had, ``inline.stranger`` for someone who is not an admin.

Why a button and not an article for a query that is not understood: choosing an article
sends its message into the chat the admin is typing in, which is the client's; an article
"not understood" would land there at one careless tap. The button opens the admin's own
chat with the bot instead, and nothing reaches the client by mistake.

Telegram documents no length for these texts; clients show the button and a title on one
line and cut the rest. So texts are plain (strings.yaml renders HTML-escaped: entities are
decoded, tags dropped), on one line, and cut with "…" at our own caps
(:data:`MAX_BUTTON_TEXT`, :data:`MAX_TITLE`, :data:`MAX_DESCRIPTION`); ``check`` reports a
text of ours that needs the cut.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from jinja2 import TemplateError

from engine.config.models import AppConfig
from engine.flow.actions import ACTIONS, FIXED_KEY, ActionContext, ActionFailedError
from engine.flow.context import window_context
from engine.flow.oneline import (
    REPLY_VARIABLES,
    OneLine,
    OneLineRejectedError,
    check_line,
    example,
    read_line,
    rejection_text,
    sample_rejections,
    vocabulary,
)
from engine.flow.schema import FlowConfig
from engine.flow.services import FlowServices
from engine.journal.hook import QuoteOrigin
from engine.render import Renderer
from engine.telegram import TelegramTextError, parse_html

log = logging.getLogger(__name__)

SECTION = "inline"
# Telegram's limits (answerInlineQuery): results per answer, bytes of a result id.
MAX_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
# Our caps, in characters: Telegram documents none; clients show one line and cut.
MAX_BUTTON_TEXT = 64
MAX_TITLE = 96
MAX_DESCRIPTION = 160
# Each ``inline`` text's cap: the two labels of a result, else the button's.
LINE_LIMITS: Mapping[str, int] = {"title": MAX_TITLE, "description": MAX_DESCRIPTION}
# Results of a quote may be cached this long (per user: is_personal); a quote's rate moves.
CACHE_SECONDS = 5
# A stranger's empty answer may be cached longer: it will not change soon.
STRANGER_CACHE_SECONDS = 60
# The deep link of the button: /start inline in the private chat with the bot, which
# opens a new quote for an admin and gets a stranger the usual polite refusal.
START_PARAMETER = "inline"
# The button texts, by what they answer (each a key of the ``inline`` section).
HINT, UNAVAILABLE, STRANGER, BAD_NUMBER = "hint", "unavailable", "stranger", "bad_number"
_SPACES = re.compile(r"[ \t\n\r\f\v]+")
# The sample quote number of check's renderings (like the journal's samples).
SAMPLE_NUMBER = "K7M2QX"


@dataclass(frozen=True, slots=True)
class Article:
    """One result: a message (Telegram HTML) and how the list shows it (plain text)."""

    id: str
    locale: str
    title: str
    description: str
    text: str


@dataclass(frozen=True, slots=True)
class InlineAnswer:
    """What an inline query is answered with: articles, or only the button's text
    (``button_key`` names its ``inline.*`` string)."""

    articles: tuple[Article, ...] = ()
    button: str | None = None
    button_key: str | None = None
    cache_seconds: int = CACHE_SECONDS
    # the dialog data of the quote the articles show (to journal it once it is picked)
    data: dict[str, Any] | None = field(default=None, compare=False, repr=False)


def plain_line(rendered: str, limit: int | None) -> str:
    """A rendered string as the plain one-line text Telegram shows: entities decoded, tags
    dropped (as Telegram's HTML parser reads them), spaces collapsed, cut at ``limit``
    characters with "…" (``None``: not cut)."""
    try:
        text = parse_html(rendered).text
    except TelegramTextError:  # not valid HTML (a literal "<" in the text): as written
        text = html.unescape(rendered)
    # Line breaks and runs of spaces become one space; a no-break space (Babel's group
    # separator: "1 000") stays, so a number is not broken across lines.
    text = _SPACES.sub(" ", text).strip(" ")
    return text if limit is None or len(text) <= limit else text[: limit - 1].rstrip() + "…"


def line_limit(key: str) -> int:
    """The cap of the ``inline`` text ``key``, in characters."""
    return LINE_LIMITS.get(key, MAX_BUTTON_TEXT)


def result_id(number: str, locale: str) -> str:
    """``K7M2QX-ru``: unique within an answer (one article per locale); a quote number
    and a locale code are a few bytes, far below :data:`MAX_RESULT_ID_BYTES`."""
    return f"{number}-{locale}"


def client_template(flow: FlowConfig, step_id: str) -> str | None:
    """The template the step's first ``send`` button sends (the client's card), if any."""
    for name in flow.steps[step_id].button_names():
        spec = flow.buttons.get(name)
        if spec is not None and spec.send is not None:
            return spec.send
    return None


class InlineQuotes:
    """Answers inline queries for the main flow.

    Args:
        flow: the main flow; its amount step's actions quote, the ``next`` of that step is
            the result card whose ``send`` button names the client's template.
        cut: cut texts at the caps (``check`` renders them uncut, to report a long one).
    """

    def __init__(
        self, flow: FlowConfig, config: AppConfig, renderer: Renderer, *, cut: bool = True
    ) -> None:
        self.flow = flow
        self.cut = cut
        self.config = config
        self.renderer = renderer
        self.words = vocabulary(config)
        self.amount_step = next(
            (
                sid
                for sid, s in flow.steps.items()
                if s.kind == "input" and s.input is not None and s.input.type == "amount"
            ),
            None,
        )
        step = flow.steps[self.amount_step] if self.amount_step is not None else None
        self.card_step = step.next if step is not None else None
        self.template = (
            client_template(flow, self.card_step) if self.card_step is not None else None
        )

    @property
    def available(self) -> bool:
        """Whether the flow has what an inline quote needs: an amount step, a result card
        after it, and a client template sent from that card."""
        return self.template is not None

    def locales_for(self, locale: str) -> list[str]:
        """Every locale, ``locale`` (the admin's) first."""
        return [locale, *(other for other in self.renderer.locales if other != locale)]

    async def answer(
        self, query: str, locale: str, services: FlowServices, origin: QuoteOrigin | None
    ) -> InlineAnswer:
        """The answer to an admin's query in ``locale``; never raises for what was typed.

        ``services`` and ``origin`` are what the flow's actions see.
        """
        text = query.strip()
        if not text:
            return self.button_answer(locale, HINT, {"example": example(self.config, OneLine())})
        try:
            request = check_line(read_line(text, self.words), self.config, self.flow)
        except OneLineRejectedError as exc:
            # DEBUG: a query is sent at every pause in typing, so most are unfinished.
            log.debug("inline query not understood: %s.%s", exc.section, exc.code)
            return self.rejection_answer(locale, exc)
        data: dict[str, Any] = dict(request.as_data())
        try:
            await self.quote(data, services, origin)
        except ActionFailedError as exc:
            log.warning("inline quote %s→%s not given: %s", request.give, request.get, exc.reason)
            return self.button_answer(
                locale, UNAVAILABLE, {"give": request.give, "get": request.get}
            )
        try:
            articles = self.articles(data, locale)
        except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
            # A template check did not catch: the admin gets no result, the log says why.
            log.error("inline quote could not be rendered (%s: %s)", type(exc).__name__, exc)
            return InlineAnswer()
        log.info(
            "inline quote %s: %s→%s, %d article(s)",
            data["quote"]["number"],
            request.give,
            request.get,
            len(articles),
        )
        return InlineAnswer(articles=articles, data=data)

    async def quote(
        self, data: dict[str, Any], services: FlowServices, origin: QuoteOrigin | None
    ) -> None:
        """Run the amount step's actions on ``data`` (``compute_quote`` stores ``quote``).

        Raises:
            ActionFailedError: an action could not do its work (no rate).
        """
        assert self.amount_step is not None
        for name in self.flow.steps[self.amount_step].actions:
            await ACTIONS[name](ActionContext(data, services, origin))

    def articles(self, data: Mapping[str, Any], locale: str) -> tuple[Article, ...]:
        """One article per locale (the admin's first) for a computed quote in ``data``."""
        assert self.template is not None
        number = str(data["quote"]["number"])
        return tuple(
            Article(
                id=result_id(number, loc),
                locale=loc,
                title=self.label(data, loc, "title"),
                description=self.label(data, loc, "description"),
                text=self.renderer.window(loc, self.template, self._context(data, loc)),
            )
            for loc in self.locales_for(locale)[:MAX_RESULTS]
        )

    def label(self, data: Mapping[str, Any], locale: str, key: str) -> str:
        """An article's ``title`` or ``description`` in ``locale``: the client card's
        variables and ``lang`` (``RU``)."""
        labels = {**self._context(data, locale), "lang": locale.upper()}
        return self._line(locale, key, labels, line_limit(key))

    def _context(self, data: Mapping[str, Any], locale: str) -> dict[str, Any]:
        assert self.card_step is not None
        return window_context(self.flow, self.card_step, self.config, data, locale, self.renderer)

    def rejection_answer(self, locale: str, exc: OneLineRejectedError) -> InlineAnswer:
        """The button saying what a query lacks: ``inline.<code>`` for a one-line refusal
        (the same variables as ``oneline.<code>``), ``inline.bad_number`` with the
        dialog's error text as ``reason`` for a number the dialog refuses too."""
        if exc.section == "errors":
            # The dialog's error is written for a message: cut to the button, always.
            reason = plain_line(rejection_text(self.renderer, locale, exc), MAX_BUTTON_TEXT)
            return self.button_answer(locale, BAD_NUMBER, {"reason": reason})
        params: dict[str, Any] = dict.fromkeys(REPLY_VARIABLES, "")
        params.update({k: "" if v is None else v for k, v in exc.params.items()})
        return self.button_answer(locale, exc.code, params)

    def button_answer(
        self,
        locale: str,
        key: str,
        params: Mapping[str, Any],
        *,
        cache_seconds: int = CACHE_SECONDS,
    ) -> InlineAnswer:
        """No article, only the button ``inline.<key>`` rendered with ``params``."""
        text = self._line(locale, key, params, MAX_BUTTON_TEXT)
        return InlineAnswer(button=text, button_key=key, cache_seconds=cache_seconds)

    def stranger_answer(self, locale: str) -> InlineAnswer:
        """Someone who is not an admin: no article, the button to open the bot."""
        return self.button_answer(locale, STRANGER, {}, cache_seconds=STRANGER_CACHE_SECONDS)

    def _line(self, locale: str, key: str, params: Mapping[str, Any], limit: int) -> str:
        rendered = self.renderer.string(locale, SECTION, key, params)
        return plain_line(rendered, limit if self.cut else None)


def stranger_answer(config: AppConfig, renderer: Renderer, locale: str) -> InlineAnswer:
    """:meth:`InlineQuotes.stranger_answer` without a flow (the access middleware's)."""
    text = plain_line(renderer.string(locale, SECTION, STRANGER, {}), MAX_BUTTON_TEXT)
    return InlineAnswer(button=text, button_key=STRANGER, cache_seconds=STRANGER_CACHE_SECONDS)


# -- samples for crypto-helper check --------------------------------------------------------


def sample_quote_data(config: AppConfig, *, receive: bool = False) -> dict[str, Any]:
    """The dialog data ``compute_quote`` leaves, for the first direction, with the largest
    amounts the currencies allow (the longest titles), at a fixed time and number."""
    give = next(iter(config.directions))
    get = config.directions[give][0]
    given, got = config.currency(give), config.currency(get)
    amount = given.max_amount if given.max_amount is not None else Decimal(1_000_000)
    result = got.max_amount if got.max_amount is not None else Decimal(1_000_000)
    fixed = "receive" if receive else "give"
    return {
        "give": give,
        "get": get,
        "amount": str(result if receive else amount),
        "margin": str(config.quote.default_margin),
        FIXED_KEY: fixed,
        "quote": {
            "asset": get,
            "price": give,
            "client_buys_asset": True,
            "base_rate": "85.30",
            "margin": str(config.quote.default_margin),
            "final_rate": "87.01",
            "amount": str(amount),
            "result": str(result),
            "sources": ["static"],
            "age_seconds": 0,
            "stale": False,
            "held": False,
            "fixed": fixed,
            "number": SAMPLE_NUMBER,
            "at": "2026-12-01T09:30:00+00:00",
        },
    }


def sample_cases(quotes: InlineQuotes, locale: str) -> list[tuple[str, Callable[[], list[str]]]]:
    """Every ``inline`` text of ``locale``, each with a call that renders what it shows (one
    failing does not hide the others): the button of a sample of each kind of answer, the
    title and description of a sample quote and of one in receive mode (in ``locale`` only).
    For ``check``: rendered as the bot renders them, from sample data, without rates."""
    config = quotes.config
    give = next(iter(config.directions))
    get = config.directions[give][0]

    def button(render: Callable[[], InlineAnswer]) -> Callable[[], list[str]]:
        return lambda: [render().button or ""]

    cases: list[tuple[str, Callable[[], list[str]]]] = [
        (
            HINT,
            button(
                partial(
                    quotes.button_answer, locale, HINT, {"example": example(config, OneLine())}
                )
            ),
        ),
        (STRANGER, button(partial(quotes.stranger_answer, locale))),
        (
            UNAVAILABLE,
            button(partial(quotes.button_answer, locale, UNAVAILABLE, {"give": give, "get": get})),
        ),
        (
            BAD_NUMBER,
            button(
                partial(
                    quotes.rejection_answer,
                    locale,
                    OneLineRejectedError("errors", "negative", {"input": "-1"}),
                )
            ),
        ),
    ]
    cases += [
        (code, button(partial(quotes.rejection_answer, locale, rejection)))
        for code, rejection in sample_rejections(config).items()
    ]
    if quotes.available:
        samples = [sample_quote_data(config), sample_quote_data(config, receive=True)]
        cases += [
            (key, partial(lambda key: [quotes.label(d, locale, key) for d in samples], key))
            for key in LINE_LIMITS
        ]
    return cases
