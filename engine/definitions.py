"""Everything a person edits, loaded and checked together: config, flows, texts.

Shared by ``crypto-helper check`` and the bot's start-up, so the bot refuses to start on
exactly what ``check`` reports. No aiogram import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.config.loader import load_config
from engine.config.models import AppConfig
from engine.errors import ConfigError, Problem
from engine.flow.loader import load_flows
from engine.flow.schema import FlowConfig
from engine.render import Renderer
from engine.texts import load_strings
from providers.registry import ProviderRegistry


@dataclass(frozen=True)
class Definitions:
    config: AppConfig
    flows: list[FlowConfig]
    renderer: Renderer


def load_definitions(
    path: str | os.PathLike[str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
) -> Definitions:
    """Load config.yaml, its flows and its templates' strings.

    Raises:
        ConfigError: every problem found (config problems stop before flows are read).
    """
    config = load_config(path, registry=registry)
    problems: list[Problem] = []
    flows: list[FlowConfig] = []
    try:
        flows = load_flows(config)
    except ConfigError as exc:
        problems += exc.problems
    strings, _, string_problems = load_strings(config.templates_dir, config.locales)
    problems += string_problems
    if problems:
        raise ConfigError(problems)
    return Definitions(config, flows, Renderer(config.templates_dir, strings))
