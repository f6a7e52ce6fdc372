"""What a gallery of a config must hold, worked out apart from the gallery's own code."""

from __future__ import annotations

import re
from pathlib import Path

from engine.check import preview_screens
from engine.definitions import load_definitions
from engine.flow.oneline import sample_rejections
from engine.texts import REQUIRED_STRINGS


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", text.casefold()).strip("-")


def expected_ids(config: Path) -> list[str]:
    """Every window the gallery must hold, worked out from the preview and strings.yaml."""
    defs = load_definitions(config)
    problems, screens = preview_screens(str(config))
    assert problems == []
    ids = [
        f"{s.flow}.{s.step}.{s.locale}" + (f".{slug(s.case)}" if s.case else "") for s in screens
    ]
    for locale in defs.renderer.locales:
        ids += [f"notices.{locale}.{key}" for key in REQUIRED_STRINGS["notices"]]
        ids += [f"oneline.{locale}.{code}" for code in sample_rejections(defs.config)]
    return ids
