"""The gallery in a real headless Chromium: every window there, no console errors, offline.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run`` when absent), driven
by Playwright through ``executable_path``, so no browser is downloaded. Without Chromium the
test is skipped on a developer's machine and fails in CI (``CI`` set). ``CHROMIUM`` names
another binary. ``GALLERY_SCREENSHOT=PATH`` also saves the index's screenshot there (how
``docs/gallery.png`` is made).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gallery_helpers import expected_ids
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from engine.definitions import load_definitions
from engine.studio.gallery import Picture, build_gallery, write_gallery

pytestmark = pytest.mark.slow  # a headless Chromium opens every page

PNG = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if found is None:
        message = "Chromium is not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The shipped config's gallery and the ids it must hold, made before the browser
    starts: Playwright's sync API runs an event loop in this thread, and rendering the
    windows needs one of its own."""
    folder = tmp_path_factory.mktemp("gallery")
    problems, gallery = build_gallery(str(ROOT / "config.yaml"), folder)
    assert problems == [] and gallery is not None
    return folder, expected_ids(ROOT / "config.yaml")


@pytest.fixture(scope="module")
def browser(built: tuple[Path, list[str]]) -> Iterator[Browser]:
    executable = chromium()
    with sync_playwright() as playwright:
        # Root (as CI runs) needs --no-sandbox; a container's small /dev/shm, the last flag.
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


class Visit:
    """A page that records console errors, uncaught exceptions and every request."""

    def __init__(self, browser: Browser) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def open(self, path: Path) -> Page:
        self.page.goto(path.resolve().as_uri())
        return self.page

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    opened = Visit(browser)
    yield opened
    opened.close()


def test_every_window_in_chromium(
    built: tuple[Path, list[str]], tmp_path: Path, visit: Visit
) -> None:
    folder, must_hold = built
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    expected = [w["id"] for w in manifest["windows"]]
    assert sorted(expected) == sorted(must_hold) and len(set(expected)) == len(expected)

    page = visit.open(folder / "index.html")
    page.wait_for_selector("body[data-graphs]", timeout=15_000)
    assert page.evaluate("document.body.dataset.graphs") == "drawn"
    flows = len(load_definitions(ROOT / "config.yaml").flows)
    assert page.locator(".graph svg").count() == flows
    assert page.locator(".graph svg .node").count() >= 7  # every step drawn as a node
    links = page.eval_on_selector_all("table.index a", "as => as.map(a => a.getAttribute('href'))")
    assert links == manifest["pages"]
    shot = tmp_path / "gallery.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(PNG) and shot.stat().st_size > 20_000
    if os.environ.get("GALLERY_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["GALLERY_SCREENSHOT"])

    seen: list[str] = []
    for name in manifest["pages"]:
        page = visit.open(folder / name)
        ids = page.eval_on_selector_all("[data-window-id]", "s => s.map(e => e.dataset.windowId)")
        assert ids == [w["id"] for w in manifest["windows"] if w["page"] == name], name
        # Each window is drawn: a non-empty bubble (or pop-up) of some height.
        heights = page.eval_on_selector_all(
            "[data-window-id] > .bubble, [data-window-id] > .toast",
            "s => s.map(e => e.getBoundingClientRect().height)",
        )
        assert len(heights) == len(ids) and min(heights) > 10, name
        seen += ids
    assert seen == expected and len(seen) == len(must_hold)
    assert visit.errors == []
    assert all(url.startswith("file://") for url in visit.requests), visit.requests


def picture(id: str, text: str, **extra: Any) -> Picture:
    return Picture(id, "demo", "en", id, "message", text, source="demo", **extra)


def test_telegram_formatting_as_drawn(project: Path, tmp_path: Path, visit: Visit) -> None:
    defs = load_definitions(project / "config.yaml")
    pictures = [
        picture(
            "all",
            "<b>bold</b> <i>italic</i> <u>under</u> <s>strike</s> <code>code</code> "
            '<tg-spoiler>secret</tg-spoiler> <a href="https://rapira.net">site</a> /help\n'
            '<blockquote>quoted</blockquote><pre><code class="language-python">x = 1</code></pre>',
            keyboard=((("A", "a"), ("B", "b")), (("C", "c"),)),
        ),
        picture(
            "hostile",
            '&lt;img src=x onerror="window.pwned=1"&gt; <a href="javascript:window.pwned=1">js</a> '
            '<a href="https://x.example/&quot;onmouseover=&quot;window.pwned=1">q</a>',
        ),
        picture("refused", "<div>nope</div>"),
        Picture("toast", "demo", "en", "toast", "popup", "<b>Staff only</b>", source="demo"),
    ]
    write_gallery(defs, pictures, tmp_path / "g")
    page = visit.open(tmp_path / "g" / "demo.en.html")
    bubble = page.locator('[data-window-id="all"] .bubble')
    weight = bubble.locator("b").evaluate("e => getComputedStyle(e).fontWeight")
    assert int(weight) >= 600
    assert bubble.locator("i").evaluate("e => getComputedStyle(e).fontStyle") == "italic"
    assert "underline" in bubble.locator("u").evaluate(
        "e => getComputedStyle(e).textDecorationLine"
    )
    assert "line-through" in bubble.locator("s").evaluate(
        "e => getComputedStyle(e).textDecorationLine"
    )
    assert (
        "mono"
        in bubble.locator("code.tg-code").evaluate("e => getComputedStyle(e).fontFamily").lower()
    )
    spoiler = bubble.locator(".tg-spoiler")
    assert spoiler.evaluate("e => getComputedStyle(e).color") == "rgba(0, 0, 0, 0)"  # hidden
    spoiler.focus()  # a tap shows it
    assert spoiler.evaluate("e => getComputedStyle(e).color") != "rgba(0, 0, 0, 0)"
    assert bubble.locator("a").get_attribute("href") == "https://rapira.net"
    assert bubble.locator(".tg-command").inner_text() == "/help"
    assert bubble.locator("blockquote").inner_text() == "quoted"
    assert bubble.locator("pre").get_attribute("data-language") == "python"
    assert page.locator('[data-window-id="all"] .keyboard .row').count() == 2
    assert page.locator('[data-window-id="all"] .key').all_inner_texts() == ["A", "B", "C"]

    hostile = page.locator('[data-window-id="hostile"] .bubble')
    assert hostile.locator("img, script").count() == 0
    assert hostile.locator("a").count() == 1  # only the https one
    hostile.locator("a").hover()
    hostile.locator(".tg-link-refused").click()
    assert page.evaluate("window.pwned") is None
    assert hostile.inner_text().startswith('<img src=x onerror="window.pwned=1"> js q')

    assert (
        page.locator('[data-window-id="refused"] .refused')
        .inner_text()
        .startswith("Telegram refuses this text: <div> is not a tag Telegram knows")
    )
    assert page.locator('[data-window-id="refused"] .bubble').inner_text() == "<div>nope</div>"
    assert (
        page.locator('[data-window-id="toast"] .toast').inner_text().endswith("<b>Staff only</b>")
    )
    assert visit.errors == []
