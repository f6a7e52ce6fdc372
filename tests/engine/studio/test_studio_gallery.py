"""``crypto-helper preview --html DIR``: what the gallery holds (the browser test opens it)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from gallery_helpers import expected_ids
from markupsafe import escape

from engine.check import POPUP_NOTICES, preview_screens
from engine.cli import main
from engine.definitions import load_definitions
from engine.studio.gallery import (
    ASSETS,
    Picture,
    build_gallery,
    unique_ids,
    walkthrough,
    write_gallery,
)
from engine.studio.graph import flow_graph

pytestmark = pytest.mark.slow  # builds the whole gallery, every window of every flow


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def gallery(project: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "gallery"
    problems, written = build_gallery(str(project / "config.yaml"), folder)
    assert problems == [] and written is not None
    return folder


def test_every_window_once(project: Path, gallery: Path) -> None:
    ids = [w["id"] for w in manifest(gallery)["windows"]]
    assert sorted(ids) == sorted(expected_ids(project / "config.yaml"))
    assert len(set(ids)) == len(ids)


def test_each_page_holds_its_windows(gallery: Path) -> None:
    found = manifest(gallery)
    for name in found["pages"]:
        page = (gallery / name).read_text(encoding="utf-8")
        mine = [w["id"] for w in found["windows"] if w["page"] == name]
        assert re.findall(r'data-window-id="([^"]+)"', page) == mine, name
        assert '<link rel="stylesheet" href="assets/gallery.css">' in page
        assert 'href="index.html"' in page


def test_pages_by_step_and_locale(project: Path, gallery: Path) -> None:
    defs = load_definitions(project / "config.yaml")
    _, screens = preview_screens(str(project / "config.yaml"))
    steps = [f"{flow.id}.{step}" for flow in defs.flows for step in flow.steps]
    others = [f"{s.flow}.{s.step}" for s in screens if f"{s.flow}.{s.step}" not in steps]
    groups = [*steps, *dict.fromkeys(others), "notices", "oneline"]
    slug = lambda text: re.sub(r"[^a-z0-9_]+", "-", text)  # noqa: E731
    assert manifest(gallery)["pages"] == [
        f"{slug(group)}.{locale}.html" for group in groups for locale in defs.renderer.locales
    ]
    index = (gallery / "index.html").read_text(encoding="utf-8")
    for name in manifest(gallery)["pages"]:
        assert f'<a href="{name}">' in index, name


def test_the_index_embeds_every_flow_graph(project: Path, gallery: Path) -> None:
    defs = load_definitions(project / "config.yaml")
    index = (gallery / "index.html").read_text(encoding="utf-8")
    for flow in defs.flows:
        graph = escape(flow_graph(flow, "mermaid"))
        assert f'<pre class="mermaid">{graph}</pre>' in index
    assert '<script src="assets/mermaid.tiny.js"></script>' in index
    for name in ("gallery.css", "gallery.js", "mermaid.tiny.js", "MERMAID-LICENSE.txt"):
        assert (gallery / "assets" / name).read_bytes() == (ASSETS / name).read_bytes()
    # Offline: nothing is loaded from elsewhere.
    for page in gallery.glob("*.html"):
        assert not re.search(r'(src|href)="(https?:)?//', page.read_text(encoding="utf-8")), page


def test_a_quote_step_by_step_on_the_index(project: Path, gallery: Path) -> None:
    index = (gallery / "index.html").read_text(encoding="utf-8")
    copies = re.findall(r'data-copy-of="([^"]+)"', index)
    defs = load_definitions(project / "config.yaml")
    locale = defs.config.bot.default_locale
    assert copies[:2] == [f"exchange.source.{locale}", f"exchange.target.{locale}.rub"]
    assert copies[-1] == f"exchange.result.{locale}.rub-usdt"
    assert "data-window-id" not in index  # copies are not counted as windows
    pictures = walkthrough(defs, [])
    assert pictures == []


def test_a_window_is_a_bubble_with_its_keyboard(gallery: Path) -> None:
    page = (gallery / "exchange-source.en.html").read_text(encoding="utf-8")
    window = page[page.index('data-window-id="exchange.source.en"') :]
    window = window[: window.index("</section>")]
    assert '<div class="bubble"><b>' in window
    assert re.findall(r'<div class="key" title="callback_data: ([^"]+)">', window)[:2] == [
        "source:RUB",
        "source:USDT",
    ]
    assert window.count('<div class="row">') == 2


def test_typed_input_shown_in_an_error_is_text(gallery: Path) -> None:
    page = (gallery / "exchange-amount.en.html").read_text(encoding="utf-8")
    start = page.index('data-window-id="exchange.amount.en.error-not_a_number"')
    window = page[start : page.index("</section>", start)]
    assert "&lt;b&gt;12abc&lt;/b&gt;" in window
    assert "<b>12abc</b>" not in window


def test_popups_are_toasts(gallery: Path) -> None:
    page = (gallery / "notices.en.html").read_text(encoding="utf-8")
    kinds = dict(re.findall(r'data-window-id="notices\.en\.([a-z_]+)" data-kind="(\w+)"', page))
    assert {k for k, v in kinds.items() if v == "popup"} == set(POPUP_NOTICES)
    assert page.count('<div class="toast">') == len(POPUP_NOTICES)


def test_a_text_telegram_refuses_is_drawn_with_the_reason(
    project: Path, edit: Any, tmp_path: Path
) -> None:
    source = (project / "templates/en/cancelled.j2").read_text(encoding="utf-8")
    (project / "templates/en/cancelled.j2").write_text(f"<div>{source}", encoding="utf-8")
    problems, written = build_gallery(str(project / "config.yaml"), tmp_path / "g")
    assert problems == [] and written is not None
    refused = {w["id"]: w["problem"] for w in manifest(tmp_path / "g")["windows"] if w["problem"]}
    reason = (
        "<div> is not a tag Telegram knows; use <b>, <i>, <u>, <s>, <code>, <pre>, <a>, "
        "<blockquote> or <tg-spoiler>"
    )
    assert refused == {"exchange.cancelled.en.sample": f"Telegram refuses this text: {reason}"}
    page = (tmp_path / "g" / "exchange-cancelled.en.html").read_text(encoding="utf-8")
    assert (
        f'<p class="refused" role="alert">Telegram refuses this text: {html.escape(reason)}</p>'
        in page
    )
    assert '<div class="bubble">&lt;div&gt;' in page


def test_a_notice_that_cannot_be_rendered_is_drawn_with_the_reason(
    project: Path, edit: Any, tmp_path: Path
) -> None:
    edit(
        "templates/en/strings.yaml",
        'too_fast: "Too fast:',
        'too_fast: "{{ nope.x }} Too fast:',
    )
    problems, written = build_gallery(str(project / "config.yaml"), tmp_path / "g")
    assert problems == [] and written is not None
    window = next(
        w for w in manifest(tmp_path / "g")["windows"] if w["id"] == "notices.en.too_fast"
    )
    assert window["problem"] == "This text cannot be shown: 'nope' is undefined"
    page = (tmp_path / "g" / "notices.en.html").read_text(encoding="utf-8")
    start = page.index('data-window-id="notices.en.too_fast"')
    section = page[start : page.index("</section>", start)]
    assert (
        '<p class="refused" role="alert">This text cannot be shown: &#39;nope&#39; is undefined</p>'
        in section
    )
    assert '<span class="empty">(nothing to show)</span>' in section


def test_a_popup_over_200_characters_is_flagged(project: Path, tmp_path: Path) -> None:
    defs = load_definitions(project / "config.yaml")
    pictures = [
        Picture("long", "notices", "en", "long", "popup", "x" * 201),
        Picture("short", "notices", "en", "short", "popup", "<b>as is</b>"),
    ]
    write_gallery(defs, pictures, tmp_path / "g")
    problems = {w["id"]: w["problem"] for w in manifest(tmp_path / "g")["windows"]}
    assert problems == {
        "long": "Telegram refuses this text: this pop-up text is 201 characters; Telegram "
        "allows at most 200",
        "short": None,
    }
    page = (tmp_path / "g" / "notices.en.html").read_text(encoding="utf-8")
    assert '<div class="toast">&lt;b&gt;as is&lt;/b&gt;</div>' in page


def test_ids_made_unique() -> None:
    pictures = [Picture(i, "g", "en", "", "message", "x") for i in ("a", "b", "a", "a")]
    assert [p.id for p in unique_ids(pictures)] == ["a", "b", "a-2", "a-3"]


def test_a_foreign_or_broken_manifest_is_left_alone(project: Path, tmp_path: Path) -> None:
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "manifest.json").write_text("not json", encoding="utf-8")
    (folder / "exchange-source.en.html").write_text("old", encoding="utf-8")
    defs = load_definitions(project / "config.yaml")
    write_gallery(
        defs, [Picture("x", "exchange.source", "en", "", "message", "<b>hi</b>")], folder
    )
    assert manifest(folder)["pages"] == ["exchange-source.en.html"]
    assert "<b>hi</b>" in (folder / "exchange-source.en.html").read_text(encoding="utf-8")


def test_writing_again_removes_only_the_old_pages(project: Path, gallery: Path) -> None:
    found = manifest(gallery)
    (gallery / "exchange-gone.en.html").write_text("old", encoding="utf-8")
    (gallery / "mine.html").write_text("keep", encoding="utf-8")
    (gallery / "notes.txt").write_text("keep", encoding="utf-8")
    found["pages"] += ["exchange-gone.en.html", "../outside.html", "notes.txt"]
    (gallery.parent / "outside.html").write_text("keep", encoding="utf-8")
    (gallery / "manifest.json").write_text(json.dumps(found), encoding="utf-8")
    problems, written = build_gallery(str(project / "config.yaml"), gallery)
    assert problems == [] and written is not None
    assert not (gallery / "exchange-gone.en.html").exists()
    assert (gallery / "mine.html").exists() and (gallery / "notes.txt").exists()
    assert (gallery.parent / "outside.html").exists()
    assert (gallery / "index.html").exists()


# --- the command ---------------------------------------------------------------------------


def test_preview_html(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out" / "gallery"
    assert main(["preview", "--html", str(folder)]) == 0
    out, err = capsys.readouterr()
    count = len(manifest(folder)["windows"])
    pages = len(manifest(folder)["pages"])
    assert (out, err) == (
        f"{count} windows on {pages} pages: {(folder / 'index.html').resolve().as_uri()}\n",
        "",
    )


@pytest.mark.parametrize("option", [["--locale", "en"], ["--step", "amount"], ["--case", "RUB"]])
def test_preview_html_draws_everything(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    assert main(["preview", "--html", str(tmp_path / "g"), *option]) == 2
    assert capsys.readouterr().err == (
        "crypto-helper preview: --html draws every window; leave out --locale, --step and --case\n"
    )
    assert not (tmp_path / "g").exists()


def test_preview_html_into_a_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--html", "config.yaml"]) == 2
    assert (
        capsys.readouterr().err == "crypto-helper preview: config.yaml is a file, not a folder\n"
    )


def test_preview_html_of_a_broken_config(
    project: Path, edit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("config.yaml", "\nlocales: [ru, en]", "\nlocale: [ru, en]")
    assert main(["preview", "--html", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "locale: unknown key; did you mean 'locales'?" in err
    assert not (tmp_path / "g").exists()
