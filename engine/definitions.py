"""Everything a person edits, loaded and checked together: config, flows, texts.

Shared by ``crypto-helper check`` and the bot's start-up, so the bot refuses to start on
exactly what ``check`` reports. No aiogram import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.config.loader import load_config_and_warnings
from engine.config.models import AppConfig
from engine.config.source import display_path
from engine.errors import ConfigError, Problem
from engine.flow.loader import load_flows, template_syntax_problem
from engine.flow.schema import FlowConfig
from engine.messages import BOT_TEMPLATES
from engine.render import TEMPLATE_SUFFIX, Renderer, create_environment
from engine.texts import load_strings
from providers.registry import ProviderRegistry


@dataclass(frozen=True)
class Definitions:
    config: AppConfig
    flows: list[FlowConfig]
    renderer: Renderer
    warnings: tuple[Problem, ...] = ()  # worth a look; nothing fails because of them


def load_definitions(
    path: str | os.PathLike[str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
) -> Definitions:
    """Load config.yaml, its flows and its templates' strings.

    Raises:
        ConfigError: every problem found (config problems stop before flows are read).
    """
    config, warnings = load_config_and_warnings(path, registry=registry)
    problems: list[Problem] = []
    flows: list[FlowConfig] = []
    try:
        flows = load_flows(config)
    except ConfigError as exc:
        problems += exc.problems
    strings, _, string_problems = load_strings(config.templates_dir, config.locales)
    problems += string_problems
    problems += _check_bot_templates(config)
    if problems:
        raise ConfigError(problems + warnings)
    renderer = Renderer(config.templates_dir, strings)
    return Definitions(config, flows, renderer, tuple(warnings))


def _check_bot_templates(config: AppConfig) -> list[Problem]:
    """The messages the bot sends outside flows must exist, and parse, in every locale."""
    problems = []
    for locale in config.locales:
        env = create_environment(config.templates_dir / locale)
        for name in BOT_TEMPLATES:
            path = config.templates_dir / locale / f"{name}{TEMPLATE_SUFFIX}"
            if not path.is_file():
                problems.append(
                    Problem(
                        display_path(path),
                        1,
                        1,
                        "",
                        f"missing: the bot sends this message ({name})",
                    )
                )
                continue
            problem = template_syntax_problem(path, env)
            if problem is not None:
                problems.append(problem)
    return problems
