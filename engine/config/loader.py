"""Load config.yaml: YAML → provider blocks → :class:`AppConfig` → cross-section checks.

All problems of a phase are collected before raising :class:`~engine.errors.ConfigError`;
a structural problem stops the cross-section phase (its checks would only echo it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from engine.config.models import AppConfig
from engine.config.semantic import check_config
from engine.config.source import SourceMap, did_you_mean, load_yaml
from engine.errors import ConfigError, Problem
from providers.base import ProviderConfig
from providers.registry import ProviderRegistry, create_registry

DEFAULT_CONFIG = "config.yaml"


def config_path(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """``--config`` if given, else ``$CONFIG_PATH``, else ``./config.yaml``."""
    return Path(cli_value or os.environ.get("CONFIG_PATH") or DEFAULT_CONFIG)


def pydantic_problems(
    exc: ValidationError,
    smap: SourceMap,
    model: type[BaseModel],
    prefix: tuple[str | int, ...] = (),
) -> list[Problem]:
    """Translate pydantic errors of ``model`` into problems at the offending YAML line."""
    problems = []
    for err in exc.errors(include_url=False):
        rel = tuple(err["loc"])
        loc = (*prefix, *rel)
        kind, msg = err["type"], err["msg"]
        if kind == "extra_forbidden":
            known = known_keys(model, rel[:-1])
            problems.append(
                smap.problem(loc, "unknown key" + did_you_mean(loc[-1], known), key=True)
            )
            continue
        if kind == "missing":
            line, col = smap.position(loc[:-1])
            problems.append(
                Problem(
                    smap.file, line, col, smap.label(loc), f"required key {loc[-1]!r} is missing"
                )
            )
            continue
        msg = plain_message(err).removeprefix("Value error, ")
        if kind == "literal_error":
            choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            msg = (
                f"{err['input']!r} is not one of {', '.join(map(repr, choices))}"
                f"{did_you_mean(err['input'], choices)}"
            )
        problems.append(smap.problem(loc, msg))
    return problems


# What each pattern of the models means, said the way the person editing the file reads it.
PATTERN_MEANINGS: Mapping[str, str] = {
    r"^[A-Z][A-Z0-9]{1,9}$": "a currency code is 2–10 capital letters or digits, starting "
    "with a letter, like USDT",
    r"^[a-z]{2,3}$": "a locale is 2–3 small letters, like ru or en",
    r"^[a-z0-9_]{1,32}$": "a command is 1–32 small letters, digits or _, like rates",
    r"^/[A-Za-z0-9/_-]*$": "a path starts with / and has letters, digits, / _ -, like "
    "/telegram/webhook",
    r"^[a-z][a-z0-9_]{0,31}$": "an id is 1–32 small letters, digits or _, starting with a "
    "letter, like amount",
}

_TYPE_MEANINGS: Mapping[str, str] = {
    "int_parsing": "must be a whole number, like 2",
    "int_type": "must be a whole number, like 2",
    "int_from_float": "must be a whole number, like 2 (no fraction)",
    "decimal_parsing": "must be a number, like 1.5",
    "decimal_type": "must be a number, like 1.5",
    "float_parsing": "must be a number, like 1.5",
    "float_type": "must be a number, like 1.5",
    "finite_number": "must be a plain number (not infinity or NaN)",
    "string_type": "must be text (put it in quotes if it looks like a number)",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "list_type": "must be a list, like [A, B] or lines starting with '- '",
    "dict_type": "must be a mapping: 'key: value' lines, indented below it",
    "model_type": "must be a mapping: 'key: value' lines, indented below it",
    "model_attributes_type": "must be a mapping: 'key: value' lines, indented below it",
    "none_required": "must be left empty",
    "path_type": "must be a file or folder path",
}


def _number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def plain_message(err: Any) -> str:
    """A pydantic error said without regular expressions or pydantic's vocabulary."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return PATTERN_MEANINGS.get(str(ctx.get("pattern")), "has characters that are not allowed")
    if kind in _TYPE_MEANINGS:
        return _TYPE_MEANINGS[kind]
    bounds = {
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {_number(ctx.get(key))} (it is {err.get('input')})"
    if kind in ("too_short", "too_long"):
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        if kind == "too_short" and limit in (1, None):
            return "must not be empty"
        words = "at least" if kind == "too_short" else "at most"
        return f"needs {words} {limit} entries"
    if kind == "decimal_max_places":
        return f"at most {ctx.get('decimal_places')} decimals"
    return str(err["msg"])


def known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside ``model`` (for "did you mean")."""
    current: Any = model
    for part in loc:
        current = _inner(current, part)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner(tp: Any, part: str | int) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(part))
        return _unwrap(field.annotation) if field else None
    origin, args = get_origin(tp), get_args(tp)
    if origin is list and isinstance(part, int):
        return _unwrap(args[0])
    if origin is dict and isinstance(part, str):
        return _unwrap(args[1])
    return None


def _unwrap(tp: Any) -> Any:
    """The model inside ``X | None`` / ``Annotated[X, ...]`` if there is one."""
    if get_origin(tp) is Annotated:
        return _unwrap(get_args(tp)[0])
    for arg in get_args(tp) if get_origin(tp) in (Union, UnionType) else ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return tp


def _validate_providers(
    raw: Any, smap: SourceMap, registry: ProviderRegistry
) -> tuple[dict[str, ProviderConfig], list[Problem]]:
    problems: list[Problem] = []
    result: dict[str, ProviderConfig] = {}
    if not isinstance(raw, Mapping):
        return result, problems  # AppConfig's own validation reports the wrong type
    for name, block in raw.items():
        loc: tuple[str | int, ...] = ("providers", str(name))
        if not isinstance(block, Mapping):
            problems.append(smap.problem(loc, "must be a mapping with at least 'kind'"))
            continue
        kind = block.get("kind")
        # An invalid block still counts as configured, so rules naming it are not
        # reported a second time as naming an unknown provider.
        result[str(name)] = ProviderConfig.model_construct(kind=str(kind))
        if kind is None:
            problems.append(smap.problem(loc, "required key 'kind' is missing"))
            continue
        if kind not in registry:
            problems.append(
                smap.problem(
                    (*loc, "kind"),
                    f"{kind!r} is not an installed provider plugin"
                    f"{did_you_mean(kind, registry.kinds)}",
                )
            )
            continue
        model = registry.get(kind).config_model
        try:
            result[str(name)] = model.model_validate(dict(block))
        except ValidationError as exc:
            problems += pydantic_problems(exc, smap, model, loc)
    return result, problems


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
) -> AppConfig:
    """Load and fully validate a config file.

    Raises:
        ConfigError: every problem found, each at its file:line:col.
    """
    return load_config_and_warnings(path, registry=registry)[0]


def load_config_and_warnings(
    path: str | os.PathLike[str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
) -> tuple[AppConfig, list[Problem]]:
    """:func:`load_config`, and the warnings (problems that fail nothing) it found.

    Raises:
        ConfigError: every problem found (warnings included), each at its file:line:col.
    """
    file = config_path(path)
    registry = registry or create_registry()
    data, smap = load_yaml(file)
    if not isinstance(data, dict):
        raise ConfigError([smap.problem((), "the config must be a mapping of sections")])
    providers, problems = _validate_providers(data.get("providers"), smap, registry)
    if "providers" in data and isinstance(data["providers"], Mapping):
        data = {**data, "providers": providers}
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems + pydantic_problems(exc, smap, AppConfig)) from None
    base = file.resolve().parent
    config = config.model_copy(
        update={
            "flows": [p if p.is_absolute() else base / p for p in config.flows],
            "templates_dir": config.templates_dir
            if config.templates_dir.is_absolute()
            else base / config.templates_dir,
        }
    )
    problems += check_config(config, smap, registry)
    if any(not p.warning for p in problems):
        raise ConfigError(problems)
    return config, problems
