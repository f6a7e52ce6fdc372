"""``crypto-helper schema``: the editors' JSON Schemas of config.yaml, flows and strings.yaml.

The shipped files validate against the committed schemas (with the ``jsonschema`` package,
as an editor would), known mistakes do not, every key has words for the editor's hover, and
the committed files are what the models generate today.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine.cli import main
from engine.studio.schema import (
    SCHEMA_FILES,
    STRING_DESCRIPTIONS,
    schema_text,
    schemas,
    undescribed,
)
from engine.texts import REQUIRED_STRINGS
from providers.registry import create_registry

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "schemas"
# Each shipped YAML file and the committed schema its first line names.
SHIPPED = {
    "config.yaml": "config.schema.json",
    "flows/exchange.yaml": "flow.schema.json",
    "templates/ru/strings.yaml": "strings.schema.json",
    "templates/en/strings.yaml": "strings.schema.json",
}


def committed(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def shipped(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def errors(schema_name: str, data: Any) -> list[tuple[str, str]]:
    """Each error as (where, message), the way an editor underlines it."""
    validator = jsonschema.Draft202012Validator(committed(schema_name))
    return sorted(
        ("/".join(str(p) for p in e.absolute_path), e.message) for e in validator.iter_errors(data)
    )


def test_the_committed_schemas_are_up_to_date() -> None:
    fresh = schemas(create_registry(include_entry_points=False))
    assert sorted(p.name for p in SCHEMAS.iterdir()) == sorted(SCHEMA_FILES)
    for name, schema in fresh.items():
        text = (SCHEMAS / name).read_text(encoding="utf-8")
        assert text == schema_text(schema), (
            f"schemas/{name} is out of date: run crypto-helper schema and commit schemas/"
        )


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_the_schemas_are_valid_json_schemas(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(committed(name))


@pytest.mark.parametrize(("path", "schema_name"), SHIPPED.items())
def test_a_shipped_file_names_its_schema_in_its_first_line(path: str, schema_name: str) -> None:
    first = (ROOT / path).read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), first
    target = ((ROOT / path).parent / first.removeprefix(prefix)).resolve()
    assert target == (SCHEMAS / schema_name).resolve()


@pytest.mark.parametrize(("path", "schema_name"), SHIPPED.items())
def test_the_shipped_files_validate(path: str, schema_name: str) -> None:
    assert errors(schema_name, shipped(path)) == []


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_key_has_words_for_the_hover(name: str) -> None:
    assert undescribed(committed(name)) == []


def test_every_text_of_strings_yaml_is_described() -> None:
    for section, keys in REQUIRED_STRINGS.items():
        missing = [k for k in keys if k not in STRING_DESCRIPTIONS.get(section, {})]
        assert not missing, (
            f"describe strings.yaml's {section}.{missing[0]} in engine/studio/schema.py "
            "STRING_DESCRIPTIONS (what an editor shows on hover)"
        )


def test_hovering_a_key_explains_it() -> None:
    config = committed("config.schema.json")
    currency = config["$defs"]["CurrencyConfig"]["properties"]
    assert (
        currency["decimals"]["description"] == "how many decimals amounts are shown and typed with"
    )
    assert config["properties"]["directions"]["description"].startswith(
        "for each currency a client may give"
    )
    step = committed("flow.schema.json")["$defs"]["StepConfig"]["properties"]
    assert step["keep_message"]["description"]
    assert "title" not in currency["decimals"]  # no made-up "Decimals" beside the words


# -- known mistakes are underlined ---------------------------------------------------------


def currency_index(config: dict[str, Any], code: str) -> int:
    return next(i for i, c in enumerate(config["currencies"]) if c["code"] == code)


def test_config_mistakes() -> None:
    config = shipped("config.yaml")
    eur = currency_index(config, "EUR")
    broken = copy.deepcopy(config)
    broken["currencies"][eur]["decimal"] = broken["currencies"][eur].pop("decimals")  # misspelt
    del broken["currencies"][eur]["kind"]  # missing
    broken["server"] = {"port": "eighty"}  # wrong type
    broken["cache"] = {"ttl_seconds": 0}  # out of range
    assert errors("config.schema.json", broken) == [
        ("cache/ttl_seconds", "0 is less than or equal to the minimum of 0"),
        (f"currencies/{eur}", "'kind' is a required property"),
        (f"currencies/{eur}", "Additional properties are not allowed ('decimal' was unexpected)"),
        ("server/port", "'eighty' is not of type 'integer'"),
    ]


def test_config_codes_and_choices() -> None:
    config = shipped("config.yaml")
    usd = currency_index(config, "USD")
    broken = copy.deepcopy(config)
    broken["currencies"][usd]["code"] = "usd"
    broken["bot"]["mode"] = "pooling"
    found = errors("config.schema.json", broken)
    assert [where for where, _ in found] == ["bot/mode", f"currencies/{usd}/code"]
    assert found[0][1] == "'pooling' is not one of ['polling', 'webhook']"


def test_a_provider_block_is_checked_by_its_kind() -> None:
    config = shipped("config.yaml")
    assert "USD/RUB" in config["providers"]["static"]["rates"]  # a plain number form
    broken = copy.deepcopy(config)
    broken["providers"]["static"]["monthly_budget"] = 100  # apilayer's key, not static's
    broken["providers"]["mine"] = {"kind": "rapria"}  # no such plugin
    found = errors("config.schema.json", broken)
    assert (
        "providers/mine/kind",
        "'rapria' is not one of ['apilayer', 'cbr', 'coingecko', 'rapira', 'static']",
    ) in found
    assert (
        "providers/static",
        "Additional properties are not allowed ('monthly_budget' was unexpected)",
    ) in found
    assert len(found) == 2


def test_flow_mistakes() -> None:
    flow = shipped("flows/exchange.yaml")
    broken = copy.deepcopy(flow)
    del broken["start"]
    broken["steps"]["margin"]["kind"] = "imput"
    broken["steps"]["margin"]["colums"] = 3
    broken["steps"]["source"]["columns"] = "two"
    found = errors("flow.schema.json", broken)
    assert ("", "'start' is a required property") in found
    assert ("steps/margin/kind", "'imput' is not one of ['choice', 'input', 'card']") in found
    assert (
        "steps/margin",
        "Additional properties are not allowed ('colums' was unexpected)",
    ) in found
    assert ("steps/source/columns", "'two' is not of type 'integer'") in found
    assert len(found) == 4


def test_strings_mistakes() -> None:
    strings = shipped("templates/en/strings.yaml")
    broken = copy.deepcopy(strings)
    del broken["notices"]["cancelled"]
    broken["errors"]["too_smal"] = broken["errors"].pop("too_small")
    broken["buttons"]["back"] = 5
    broken["notice"] = {}
    assert errors("strings.schema.json", broken) == [
        ("", "Additional properties are not allowed ('notice' was unexpected)"),
        ("buttons/back", "5 is not of type 'string'"),
        ("errors", "'too_small' is a required property"),
        ("errors", "Additional properties are not allowed ('too_smal' was unexpected)"),
        ("notices", "'cancelled' is a required property"),
    ]


def test_a_flows_own_button_label_is_allowed_in_buttons_only() -> None:
    strings = shipped("templates/en/strings.yaml")
    strings["buttons"]["call_manager"] = "📞 Manager"
    assert errors("strings.schema.json", strings) == []
    strings["notices"]["call_manager"] = "x"
    assert errors("strings.schema.json", strings) == [
        ("notices", "Additional properties are not allowed ('call_manager' was unexpected)"),
    ]


# -- the command -----------------------------------------------------------------------------


def test_schema_command_writes_beside_the_config(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"wrote schemas/{n}" for n in SCHEMA_FILES]
    for name in SCHEMA_FILES:
        assert (project / "schemas" / name).read_text(encoding="utf-8") == (
            SCHEMAS / name
        ).read_text(encoding="utf-8")


def test_schema_command_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--out", str(tmp_path / "deep" / "er")]) == 0
    assert sorted(p.name for p in (tmp_path / "deep" / "er").iterdir()) == sorted(SCHEMA_FILES)
    capsys.readouterr()
    (tmp_path / "file").write_text("")
    assert main(["schema", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.startswith(
        f"crypto-helper schema: cannot write {tmp_path / 'file'}: "
    )
