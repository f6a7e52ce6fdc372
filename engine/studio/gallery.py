"""``crypto-helper preview --html DIR``: every window drawn the way Telegram shows it.

The pictures are what ``crypto-helper preview`` renders (:func:`engine.preview.preview_all`
against the offline static rates: every window of every flow in every locale and
direction, every input error, the error and cancel cards, /help, /rates, the refusal and
the failure notice), plus every notice of ``strings.yaml`` (a pop-up where the bot sends
it as one) and every one-line quote reply. Each is a chat bubble whose Telegram HTML is
drawn by :func:`engine.studio.richtext.to_html` (text escaped, tags from a fixed table,
links only to ``http``, ``https`` and ``tg``), under it the inline keyboard as rows of
buttons (``callback_data`` in the tooltip); a text Telegram would refuse is drawn as its
source with the reason above it, as ``check`` words it.

The folder holds ``index.html`` (the flow graphs, drawn by the vendored Mermaid, a quote
step by step, and a table of pages by step and locale), one page per step (or message
group) and locale, ``assets/`` and ``manifest.json`` (every window's id and page, for
tools and tests). Writing again removes the pages the previous gallery listed, and
nothing else. Everything works offline from ``file://``: no script or font is fetched.

Why hand-written: the pages are a few Jinja templates (``assets/*.html.j2``); what makes
them right is Telegram's reading of the HTML, which comes from :mod:`engine.telegram`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from markupsafe import Markup

from engine.check import POPUP_NOTICES
from engine.definitions import Definitions, load_definitions
from engine.errors import ConfigError, Problem
from engine.flow.oneline import rejection_text, sample_rejections
from engine.flow.services import FlowServices
from engine.preview import Screen, preview_all
from engine.rates.offline import create_offline_rates
from engine.studio.graph import flow_graph
from engine.studio.richtext import read_message, tree_html
from engine.telegram import MAX_CALLBACK_ANSWER, check_plain_text
from engine.texts import REQUIRED_STRINGS

ASSETS = Path(__file__).resolve().parent / "assets"
STATIC_ASSETS = ("gallery.css", "gallery.js", "mermaid.tiny.js", "MERMAID-LICENSE.txt")
MANIFEST = "manifest.json"
INDEX = "index.html"
NOTICES, ONELINE = "notices", "oneline"
Kind = Literal["message", "popup"]
Button = tuple[str, str]  # (label, callback data)


@dataclass(frozen=True)
class Picture:
    """One window, message or pop-up to draw.

    Attributes:
        id: unique and stable: ``<group>.<locale>[.<case>]``, e.g. ``exchange.result.en.rub-usdt``.
        group: its page: ``<flow>.<step>``, ``bot.<message>``, ``notices`` or ``oneline``.
        text: Telegram HTML (a pop-up's is plain text).
        source: the file (and key) its text comes from.
        problem: why it could not be rendered, e.g. "cannot be shown: …" (then ``text``
            is empty).
    """

    id: str
    group: str
    locale: str
    case: str
    kind: Kind
    text: str
    keyboard: tuple[tuple[Button, ...], ...] = ()
    source: str = ""
    problem: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of the gallery: the pictures of a group in a locale."""

    group: str
    locale: str
    pictures: tuple[Picture, ...]

    @property
    def file(self) -> str:
        return f"{_slug(self.group)}.{_slug(self.locale)}.html"


@dataclass
class Gallery:
    """What was written: where, the pages and the pictures (in page order)."""

    folder: Path
    pages: list[Page] = field(default_factory=list)

    @property
    def pictures(self) -> list[Picture]:
        return [p for page in self.pages for p in page.pictures]

    @property
    def index(self) -> Path:
        return self.folder / INDEX


def _slug(text: str) -> str:
    """``RUB→USDT`` → ``rub-usdt``; ``error:too_long`` → ``error-too_long``."""
    return re.sub(r"[^a-z0-9_]+", "-", text.casefold()).strip("-")


def _case_label(case: str) -> str:
    if not case:
        return "first window"
    if case.startswith("error:"):
        return f"input error: {case.removeprefix('error:')}"
    return case


# --- what to draw -------------------------------------------------------------------------


def screen_pictures(defs: Definitions, screens: Iterable[Screen]) -> list[Picture]:
    """The preview's screens as pictures (flow windows and the bot's messages)."""
    folder = defs.config.templates_dir.name
    pictures = []
    for screen in screens:
        group = f"{screen.flow}.{screen.step}"
        case = _slug(screen.case)
        pictures.append(
            Picture(
                id=f"{group}.{screen.locale}" + (f".{case}" if case else ""),
                group=group,
                locale=screen.locale,
                case=screen.case,
                kind="message",
                text=screen.text,
                keyboard=screen.keyboard,
                source=f"{folder}/{screen.locale}/{screen.template}.j2",
            )
        )
    return pictures


def string_pictures(defs: Definitions) -> list[Picture]:
    """Every notice of ``strings.yaml`` and every one-line quote reply, in every locale."""
    folder = defs.config.templates_dir.name
    pictures = []
    for locale in defs.renderer.locales:
        source = f"{folder}/{locale}/strings.yaml"
        for key in REQUIRED_STRINGS["notices"]:
            kind: Kind = "popup" if key in POPUP_NOTICES else "message"
            text, problem = _render(partial(defs.renderer.string, locale, "notices", key, {}))
            pictures.append(
                Picture(
                    f"{NOTICES}.{locale}.{key}",
                    NOTICES,
                    locale,
                    key,
                    kind,
                    text,
                    source=f"{source}: notices.{key}",
                    problem=problem,
                )
            )
        for code, rejection in sample_rejections(defs.config).items():
            text, problem = _render(partial(rejection_text, defs.renderer, locale, rejection))
            pictures.append(
                Picture(
                    f"{ONELINE}.{locale}.{code}",
                    ONELINE,
                    locale,
                    code,
                    "message",
                    text,
                    source=f"{source}: oneline.{code}",
                    problem=problem,
                )
            )
    return pictures


def _render(make: Callable[[], object]) -> tuple[str, str | None]:
    try:
        return str(make()), None
    except (TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
        return "", f"cannot be shown: {exc}"


def group_pages(defs: Definitions, pictures: Sequence[Picture]) -> list[Page]:
    """Pictures by page: steps in flow order, then the bot's messages, notices and one-line
    replies; locales in the config's order; each page's pictures in render order."""
    locales = list(defs.renderer.locales)
    groups: list[str] = [f"{flow.id}.{step}" for flow in defs.flows for step in flow.steps]
    for picture in pictures:
        if picture.group not in groups:
            groups.append(picture.group)
    pages = []
    for group in groups:
        for locale in locales:
            chosen = tuple(p for p in pictures if p.group == group and p.locale == locale)
            if chosen:
                pages.append(Page(group, locale, chosen))
    return pages


# --- drawing ------------------------------------------------------------------------------


def picture_html(picture: Picture) -> tuple[Markup, str | None]:
    """The bubble's inner HTML, and what is wrong with it in one sentence (None if nothing).

    A pop-up is plain text: escaped as it is, held to ``answerCallbackQuery``'s 200
    characters.
    """
    if picture.problem is not None:
        return Markup(""), f"This text {picture.problem}"
    if picture.kind == "popup":
        found = check_plain_text(
            picture.text, MAX_CALLBACK_ANSWER, what="this pop-up text", allow_empty=True
        )
        refused = f"Telegram refuses this text: {found[0].message}" if found else None
        return Markup.escape(picture.text), refused
    message = read_message(picture.text)
    refused = f"Telegram refuses this text: {message.problem}" if message.problem else None
    return Markup(tree_html(message.root)), refused


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(picture_html=picture_html, case_label=_case_label)
    return env


def walkthrough(defs: Definitions, pictures: Sequence[Picture]) -> list[Picture]:
    """A quote step by step in the default locale: the first flow's first window of each
    step, following the first direction, up to the first card."""
    if not defs.flows:
        return []
    flow = defs.flows[0]
    locale = defs.config.bot.default_locale
    shown: list[Picture] = []
    path = ""
    for step_id, step in flow.steps.items():
        group = f"{flow.id}.{step_id}"
        found = next(
            (
                p
                for p in pictures
                if p.group == group
                and p.locale == locale
                and not p.case.startswith("error:")
                and p.case.startswith(path)
            ),
            None,
        )
        if found is None:
            break
        shown.append(found)
        path = found.case
        if step.kind == "card":
            break
    return shown


def write_gallery(defs: Definitions, pictures: Sequence[Picture], folder: Path) -> Gallery:
    """Write the gallery of ``pictures`` into ``folder`` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    _remove_previous(folder)
    assets = folder / "assets"
    assets.mkdir(exist_ok=True)
    for name in STATIC_ASSETS:
        shutil.copyfile(ASSETS / name, assets / name)
    gallery = Gallery(folder, group_pages(defs, pictures))
    env = _environment()
    page_of = {p.id: page.file for page in gallery.pages for p in page.pictures}
    groups = list(dict.fromkeys(page.group for page in gallery.pages))
    locales = list(defs.renderer.locales)
    files = {(page.group, page.locale): page for page in gallery.pages}
    for page in gallery.pages:
        others = [
            (loc, files[(page.group, loc)].file) for loc in locales if (page.group, loc) in files
        ]
        html = env.get_template("page.html.j2").render(
            page=page, others=others, title=_group_title(page.group)
        )
        (folder / page.file).write_text(html, encoding="utf-8")
    graphs = [(flow.id, flow_graph(flow, "mermaid")) for flow in defs.flows]
    index = env.get_template("index.html.j2").render(
        groups=[(g, _group_title(g)) for g in groups],
        locales=locales,
        files=files,
        graphs=graphs,
        walk=walkthrough(defs, pictures),
        page_of=page_of,
        total=len(pictures),
        pages=len(gallery.pages),
    )
    gallery.index.write_text(index, encoding="utf-8")
    manifest = {
        "windows": [
            {
                "id": p.id,
                "page": page_of[p.id],
                "group": p.group,
                "locale": p.locale,
                "case": p.case,
                "kind": p.kind,
                "source": p.source,
                "problem": picture_html(p)[1],
            }
            for p in gallery.pictures
        ],
        "pages": [page.file for page in gallery.pages],
    }
    (folder / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return gallery


def _group_title(group: str) -> str:
    if group == NOTICES:
        return "notices (strings.yaml)"
    if group == ONELINE:
        return "one-line quote replies (strings.yaml)"
    if group.startswith("bot."):
        return f"/{group.removeprefix('bot.')} message"
    return group


def _remove_previous(folder: Path) -> None:
    """Delete the pages a previous gallery listed in its manifest (and only those)."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("pages", [])
    except (ValueError, AttributeError):
        return
    for name in listed if isinstance(listed, list) else []:
        path = folder / str(name)
        if path.parent == folder and path.suffix == ".html" and path.is_file():
            path.unlink()


# --- the command ----------------------------------------------------------------------------


async def _render_all(defs: Definitions) -> tuple[list[Problem], list[Screen]]:
    rates = create_offline_rates(defs.config)
    try:
        result = await preview_all(defs, FlowServices(rates))
    finally:
        await rates.close()
    return result.problems, result.screens


def build_gallery(config_path: str | None, folder: Path) -> tuple[list[Problem], Gallery | None]:
    """Render everything and write the gallery; the problems that prevent rendering come
    back instead (as ``preview`` reports them), with no gallery."""
    try:
        defs = load_definitions(config_path)
    except ConfigError as exc:
        return exc.problems, None
    problems, screens = asyncio.run(_render_all(defs))
    if problems:
        return problems, None
    pictures = [*screen_pictures(defs, screens), *string_pictures(defs)]
    return [], write_gallery(defs, unique_ids(pictures), folder)


def unique_ids(pictures: Sequence[Picture]) -> list[Picture]:
    """Ids made unique (a second ``x`` becomes ``x-2``), so every picture has its anchor."""
    seen: dict[str, int] = {}
    unique = []
    for picture in pictures:
        count = seen.get(picture.id, 0) + 1
        seen[picture.id] = count
        if count > 1:
            picture = replace(picture, id=f"{picture.id}-{count}")
        unique.append(picture)
    return unique
