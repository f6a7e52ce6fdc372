"""Everything a person edits, loaded and checked together: config, flows, texts.

Shared by ``crypto-helper check`` and the bot's start-up, so the bot refuses to start on
exactly what ``check`` reports. No aiogram import here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from engine.config.loader import config_path, load_config_and_warnings, pydantic_problems
from engine.config.models import AppConfig
from engine.config.source import SourceMap, display_path, load_yaml
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
    string_maps: Mapping[str, SourceMap] = field(default_factory=dict)  # locale → strings.yaml


def load_definitions(
    path: str | os.PathLike[str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
) -> Definitions:
    """Load config.yaml, its flows and its templates' strings.

    Raises:
        ConfigError: every problem found (config problems stop before flows are read).
    """
    try:
        config, warnings = load_config_and_warnings(path, registry=registry)
    except ConfigError as exc:
        # Everything else is still checked as far as it can be without a valid config,
        # so one run shows every problem.
        raise ConfigError([*exc.problems, *_beyond_config(config_path(path))]) from None
    problems: list[Problem] = []
    flows: list[FlowConfig] = []
    try:
        flows = load_flows(config)
    except ConfigError as exc:
        problems += exc.problems
    # The flows' own buttons have labels too; read off the files when a flow did not load.
    if flows or not config.flows:
        labels, known = [name for flow in flows for name in flow.buttons], True
    else:
        labels, known = declared_buttons(config.flows)
    strings, string_maps, string_problems = load_strings(
        config.templates_dir,
        config.locales,
        {"buttons": labels},
        unknown_ok=() if known else ("buttons",),
    )
    problems += string_problems
    problems += _check_bot_templates(config)
    problems += _every_template(config.templates_dir, config.locales)
    if problems:
        raise ConfigError(problems + warnings)
    renderer = Renderer(config.templates_dir, strings)
    return Definitions(config, flows, renderer, tuple(warnings), string_maps)


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


def _beyond_config(path: Path) -> list[Problem]:
    """What can be checked with a config.yaml that does not validate: each flow's YAML and
    structure, each locale's strings.yaml, and the syntax of every template. Where the
    config names them is read from its raw YAML when it can be, else the defaults."""
    try:
        data, _ = load_yaml(path)
    except ConfigError:
        data = {}
    data = data if isinstance(data, dict) else {}
    base = path.resolve().parent
    locales = data.get("locales")
    if not (isinstance(locales, list) and all(isinstance(x, str) for x in locales)):
        locales = list(AppConfig.model_fields["locales"].get_default(call_default_factory=True))
    templates = data.get("templates_dir", "templates")
    templates_dir = base / (templates if isinstance(templates, str) else "templates")
    flows = data.get("flows", ["flows/exchange.yaml"])
    flow_paths = [base / f for f in flows if isinstance(f, str)] if isinstance(flows, list) else []
    problems: list[Problem] = []
    for flow in flow_paths:
        if not flow.is_file():
            continue
        try:
            raw, smap = load_yaml(flow)
        except ConfigError as exc:
            problems += exc.problems
            continue
        try:
            FlowConfig.model_validate(raw)
        except ValidationError as exc:
            problems += pydantic_problems(exc, smap, FlowConfig)
    if templates_dir.is_dir():
        labels, known = declared_buttons(flow_paths)
        problems += load_strings(
            templates_dir, locales, {"buttons": labels}, unknown_ok=() if known else ("buttons",)
        )[2]
        problems += _every_template(templates_dir, locales)
    return problems


def declared_buttons(flow_paths: list[Path]) -> tuple[list[str], bool]:
    """The ids under ``buttons:`` of these flow files, read as plain YAML, for flows that
    do not validate (so their labels are not reported as unknown), and whether every file
    could be read."""
    names: list[str] = []
    for path in flow_paths:
        try:
            raw, _ = load_yaml(path)
        except ConfigError:
            return names, False
        buttons = raw.get("buttons") if isinstance(raw, dict) else None
        if isinstance(buttons, dict):
            names += [str(name) for name in buttons]
    return names, True


def _every_template(templates_dir: Path, locales: list[str]) -> list[Problem]:
    """The syntax (and encoding) of every template file, partials included: a file that
    is only included (``_header.j2``) would otherwise fail only when rendered."""
    problems = []
    for locale in locales:
        env = create_environment(templates_dir / locale)
        for template in sorted((templates_dir / locale).glob(f"*{TEMPLATE_SUFFIX}")):
            problem = template_syntax_problem(template, env)
            if problem is not None:
                problems.append(problem)
    return problems
