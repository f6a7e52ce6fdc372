"""JSON Schemas of what a person edits, for editor autocompletion: ``crypto-helper schema``.

Generated from the pydantic models that validate the files, so the editor and ``check``
agree on every key: config.yaml from :class:`~engine.config.models.AppConfig` (each
``providers`` block by its ``kind``, from the installed provider plugins' own models), a
flow file from :class:`~engine.flow.schema.FlowConfig`, strings.yaml from
:data:`~engine.texts.REQUIRED_STRINGS`. The fields' descriptions become what the editor
shows when the mouse rests on a key. The files are committed under ``schemas/`` and named
by the first line of each shipped YAML file (``# yaml-language-server: $schema=…``); a test
keeps them equal to freshly generated ones.

The editor's schema is a help, not the judge: ``check`` still finds what a schema cannot
say (a direction naming an unknown currency, a step that is not there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from engine.config.models import AppConfig
from engine.flow.schema import FlowConfig
from engine.texts import REQUIRED_STRINGS
from providers.base import ProviderConfig
from providers.registry import ProviderRegistry, create_registry

DRAFT = "https://json-schema.org/draft/2020-12/schema"
CONFIG_SCHEMA = "config.schema.json"
FLOW_SCHEMA = "flow.schema.json"
STRINGS_SCHEMA = "strings.schema.json"
SCHEMA_FILES = (CONFIG_SCHEMA, FLOW_SCHEMA, STRINGS_SCHEMA)

# What each text of strings.yaml is, as the editor shows it. A key the engine requires
# without an entry here still gets a schema entry (a generic description); a test asks for
# a real one.
STRING_SECTIONS: Mapping[str, str] = {
    "buttons": "Button labels. Each is a Jinja template.",
    "errors": "What the bot says when a typed number is refused, shown above the window. "
    "Variables: input (what was typed), min, max, max_decimals, max_length, unit.",
    "notices": "Short messages outside the windows: replies to /cancel, pop-ups, warnings.",
    "inline": "Inline quotes: '@yourbot 1000 rub usdt 2' typed in any chat (admins only). "
    "Plain text on one line.",
    "journal": "Replies of the quote journal's commands: /history, /today, /export.",
    "export_columns": "/export's CSV file: the header of each column, and the words in its "
    "cells. Variable: timezone (bot.timezone).",
    "oneline": "Replies to a one-line quote (/q 1000 rub usdt 2) that could not be understood. "
    "Variables: amount, give, get, margin (as understood), understood, example, word, "
    "codes, gets, gives.",
}
STRING_DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {
    "buttons": {
        "back": "the Back button: goes to the previous step",
        "cancel": "the Cancel button: ends the quote",
        "new_deal": "the button that starts a new quote",
        "retry": "the Retry button on the 'rates unavailable' card: asks for the rate again",
        "currency": "each currency button; variables: emoji, code, name",
        "preset": "each preset button of an input step (margin presets); variable: value",
    },
    "errors": {
        "empty": "an empty message was sent",
        "too_long": "the message is longer than max_length characters",
        "hidden_characters": "the number has invisible characters (text-direction or "
        "formatting marks) that can make it look different from what was sent",
        "foreign_digits": "the number has digits other than 0–9 (Arabic, Persian…)",
        "not_a_number": "the text is not a number",
        "ambiguous": "the number could be read two ways, like 1,000 (a thousand or one)",
        "negative": "the number is below zero",
        "too_small": "the number is below min",
        "too_large": "the number is above max",
        "too_many_decimals": "the number has more than max_decimals decimals",
    },
    "notices": {
        "cancelled": "the reply to /cancel while a quote is open",
        "nothing_to_cancel": "the reply to /cancel when no quote is open",
        "restarted": "pop-up on a button from before the bot restarted (plain text, at most "
        "200 characters)",
        "refused": "pop-up for someone who is not an admin pressing a button (plain text, "
        "at most 200 characters)",
        "private_only": "the reply to an admin's command in a group chat",
        "too_fast": "sent once when an admin taps or types faster than the bot takes",
        "start_over": "a message when no quote is open (state lost or expired); a new quote "
        "starts after it",
    },
    "oneline": {
        "understood": "how the understood parts are shown inside the other replies",
        "unknown_word": "a word that names no currency; variable: word",
        "missing_amount": "the line has no amount",
        "missing_currency": "one or both currencies are missing",
        "unknown_direction": "no such direction: the client cannot give or get that currency",
        "too_many": "the line has more parts than an amount, two currencies and a margin",
        "receive_mode": "quoting from the amount the client receives is not available",
    },
    "inline": {
        "title": "each result's title, in its own language; variables of client.j2 (quote, "
        "give, get, currencies, valid_until) and lang (RU, EN)",
        "description": "each result's second line; the same variables as title",
        "hint": "the button above the results for an empty query (at most 64 characters); "
        "variable: example",
        "stranger": "that button for someone who is not an admin",
        "unavailable": "that button when there is no rate; variables: give, get",
        "bad_number": "that button for a number the dialog refuses; variable: reason",
        "unknown_word": "that button for a word that names no currency; variables: word, example",
        "missing_amount": "that button when the query has no amount; variable: example",
        "missing_currency": "that button when a currency is missing; variables: give, get, "
        "example",
        "unknown_direction": "that button for a direction not configured; variables: give, "
        "get, example",
        "too_many": "that button for a query with more than a quote needs; variable: example",
    },
    "journal": {
        "reopen_button": "each quote's button in /history, which shows that quote again; "
        "variables: number, amount, give, get",
        "not_found": "pop-up when the quote of such a button is no longer in the journal",
        "unavailable": "the reply while the journal's database does not answer; variable: "
        "waiting (quotes waiting to be written)",
        "off": "the reply when no journal is kept",
        "history_usage": "the reply to /history with words it does not take; variable: input",
        "export_caption": "the text sent with /export's file; variables: period, timezone, count",
        "export_empty": "the reply to /export when the period has no quotes; variables: "
        "period, timezone",
        "period_bad_date": "/export with something that is not a date; variable: input",
        "period_reversed": "/export whose last day is before its first; variables: first, last",
        "period_too_long": "/export of too many days at once; variables: max_days, days",
        "period_too_many": "/export with more than two dates",
    },
    "export_columns": {
        "number": "the column of the quote's number",
        "time": "the column of when it was quoted; variable: timezone",
        "admin_id": "the column of the admin's Telegram id",
        "admin": "the column of the admin's name",
        "chat_id": "the column of the chat's Telegram id",
        "give": "the column of the currency the client gives",
        "get": "the column of the currency the client gets",
        "mode": "the column saying which amount was typed: the one given or received",
        "amount_given": "the column of the amount the client gives",
        "amount_received": "the column of the amount the client gets",
        "market_rate": "the column of the market rate",
        "client_rate": "the column of the client's rate",
        "margin": "the column of the margin, in %",
        "sources": "the column of the rate's source",
        "rate_age": "the column of the rate's age, in seconds",
        "stale": "the column saying whether the rate was older than usual",
        "locale": "the column of the admin's language",
        "version": "the column of the bot's version",
        "mode_give": "in the mode column: the amount given was typed",
        "mode_receive": "in the mode column: the amount received was typed",
        "yes": "the word for yes in the cells",
        "no": "the word for no in the cells",
    },
}


# A flow's own buttons (``buttons:`` of a flow file) take their labels from buttons.<id>.
OWN_BUTTONS = ConfigDict(
    extra="allow",
    json_schema_extra={
        "additionalProperties": {
            "type": "string",
            "description": "the label of one of the flow's own buttons (buttons: in the "
            "flow file)",
        }
    },
)


class _Schema(GenerateJsonSchema):
    """Pydantic's schema, without the titles it makes up from field names ("Min Amount"):
    the editor would show them beside the descriptions."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> dict[str, Any]:
        generated = super().model_schema(schema)
        generated.pop("title", None)
        return generated


def _document(title: str, body: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    used = _refs(body, defs)
    return {
        "$schema": DRAFT,
        "title": title,
        **body,
        **({"$defs": {k: defs[k] for k in sorted(used)}} if used else {}),
    }


def _refs(node: Any, defs: Mapping[str, Any]) -> set[str]:
    """Names of the ``$defs`` that ``node`` reaches."""
    found: set[str] = set()
    todo = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in found:
                    found.add(name)
                    todo.append(defs[name])
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return found


def _models_schema(
    models: list[type[BaseModel]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    mode: JsonSchemaMode = "validation"
    refs, top = models_json_schema([(m, mode) for m in models], schema_generator=_Schema)
    defs: dict[str, Any] = top.get("$defs", {})
    return [refs[(m, mode)] for m in models], defs


def _def_name(ref: Mapping[str, Any]) -> str:
    return str(ref["$ref"]).removeprefix("#/$defs/")


def config_schema(registry: ProviderRegistry | None = None) -> dict[str, Any]:
    """config.yaml's schema; each ``providers`` block is checked by the model of its
    ``kind`` among ``registry``'s plugins (default: the built-in and installed ones)."""
    registry = registry or create_registry()
    kinds = {kind: registry.get(kind).config_model for kind in registry.kinds}
    refs, defs = _models_schema([AppConfig, *kinds.values()])
    root = defs.pop(_def_name(refs[0]))
    base = ProviderConfig.model_fields
    for ref in refs[1:]:
        # A plugin that only changes a default (base_url) keeps the base field's words.
        for name, prop in defs[_def_name(ref)]["properties"].items():
            if "description" not in prop and name in base and base[name].description:
                prop["description"] = base[name].description
    kind_field = {"description": base["kind"].description or ""}
    providers = root["properties"]["providers"]
    providers["additionalProperties"] = {
        "type": "object",
        "description": "one rate source: its kind (the plugin) and that plugin's settings",
        "properties": {"kind": {**kind_field, "enum": list(kinds)}},
        "required": ["kind"],
        "allOf": [
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": ref,
            }
            for kind, ref in zip(kinds, refs[1:], strict=True)
        ],
    }
    return _document("Crypto Helper config.yaml", root, defs)


def flow_schema() -> dict[str, Any]:
    """A flow file's schema (``flows/*.yaml``)."""
    refs, defs = _models_schema([FlowConfig])
    return _document("Crypto Helper flow", defs.pop(_def_name(refs[0])), defs)


def strings_model() -> type[BaseModel]:
    """strings.yaml as a model: its sections and keys, each required (``check`` says
    which are missing), each text described."""
    forbid = ConfigDict(extra="forbid")
    sections: dict[str, Any] = {}
    for section, keys in REQUIRED_STRINGS.items():
        described = STRING_DESCRIPTIONS.get(section, {})
        fields: dict[str, Any] = {
            key: (str, Field(description=described.get(key, f"the text {section}.{key}")))
            for key in keys
        }
        config = OWN_BUTTONS if section == "buttons" else forbid
        model = create_model(f"{section.capitalize()}Strings", __config__=config, **fields)
        model.__doc__ = STRING_SECTIONS.get(section, f"The texts of {section}.")
        sections[section] = (model, Field(description=model.__doc__))
    strings: type[BaseModel] = create_model("Strings", __config__=forbid, **sections)
    strings.__doc__ = (
        "The short texts of one locale: button labels, input errors, notices. Each is a "
        "Jinja template; every locale has the same keys."
    )
    return strings


def strings_schema() -> dict[str, Any]:
    """strings.yaml's schema (``templates/<locale>/strings.yaml``)."""
    refs, defs = _models_schema([strings_model()])
    return _document("Crypto Helper strings.yaml", defs.pop(_def_name(refs[0])), defs)


def schemas(registry: ProviderRegistry | None = None) -> dict[str, dict[str, Any]]:
    """Every schema by its file name."""
    return {
        CONFIG_SCHEMA: config_schema(registry),
        FLOW_SCHEMA: flow_schema(),
        STRINGS_SCHEMA: strings_schema(),
    }


def schema_text(schema: Mapping[str, Any]) -> str:
    """A schema as its committed file holds it: indented JSON, UTF-8 as is, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path, registry: ProviderRegistry | None = None) -> list[Path]:
    """Write every schema into ``folder`` (created if missing); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas(registry).items():
        path = folder / name
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written


def undescribed(schema: Mapping[str, Any]) -> list[str]:
    """The keys of ``schema`` that have no description, on the key or on what it refers
    to: what hovering would leave unexplained. Named like ``currencies[].code`` (an entry
    of a list) and ``steps.*.kind`` (an entry of a mapping)."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    found: dict[str, None] = {}

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = node.get("$ref")
        return defs[str(ref).removeprefix("#/$defs/")] if isinstance(ref, str) else node

    def visit(node: Mapping[str, Any], path: str, seen: frozenset[str]) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:  # a model that contains itself: once is enough
                return
            seen |= {ref}
        node = resolve(node)
        for key, sub in node.get("properties", {}).items():
            here = f"{path}.{key}" if path else key
            if not (sub.get("description") or resolve(sub).get("description")):
                found[here] = None
            visit(sub, here, seen)
        if isinstance(node.get("items"), dict):
            visit(node["items"], f"{path}[]", seen)
        entries = [node.get("additionalProperties"), *node.get("patternProperties", {}).values()]
        for entry in entries:  # a mapping's entries: currencies by code, steps by id
            if isinstance(entry, dict):
                visit(entry, f"{path}.*", seen)
        if isinstance(node.get("then"), dict):
            visit(node["then"], path, seen)
        for branch in (*node.get("anyOf", ()), *node.get("allOf", ())):
            visit(branch, path, seen)

    visit(schema, "", frozenset())
    return list(found)
