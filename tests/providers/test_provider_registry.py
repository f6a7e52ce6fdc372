"""The plugin registry: built-ins, entry points, duplicates."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.apilayer import ApiLayerConfig, ApiLayerProvider
from providers.base import RatesProviderProtocol
from providers.errors import ProviderConfigError
from providers.rapira import RapiraConfig, RapiraProvider
from providers.registry import (
    ENTRY_POINT_GROUP,
    ProviderRegistry,
    Registration,
    create_registry,
)
from providers.static import StaticConfig, StaticProvider

PLUGIN_MODULE = """
from providers.base import BaseProvider


class DeskProvider(BaseProvider):
    needs_network = False

    def __init__(self, name, config, *, session=None, api_key=None):
        super().__init__(name, config)

    async def fetch(self, pairs):
        return {}
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution on sys.path declaring a ``crypto_helper.providers`` entry point.

    importlib.metadata finds it as it would a pip-installed plugin, without installing.
    """
    (tmp_path / "mydesk_rates.py").write_text(PLUGIN_MODULE)
    dist = tmp_path / "mydesk_rates-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mydesk-rates\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            f"""\
            [{ENTRY_POINT_GROUP}]
            mydesk = mydesk_rates:DeskProvider
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "mydesk"
    sys.modules.pop("mydesk_rates", None)


@pytest.mark.parametrize(
    ("kind", "plugin", "config_model"),
    [
        ("static", StaticProvider, StaticConfig),
        ("rapira", RapiraProvider, RapiraConfig),
        ("apilayer", ApiLayerProvider, ApiLayerConfig),
    ],
)
def test_builtins_load(kind: str, plugin: object, config_model: object) -> None:
    registry = create_registry(include_entry_points=False)
    assert registry.get(kind) is plugin
    assert registry.get(kind).config_model is config_model
    assert kind in registry


async def test_builtins_build_from_their_config_and_satisfy_the_protocol() -> None:
    registry = create_registry(include_entry_points=False)
    for kind in ("rapira", "apilayer"):
        plugin = registry.get(kind)
        config = plugin.config_model.model_validate({"kind": kind})
        provider = plugin(kind, config, session=None, api_key=None)
        assert isinstance(provider, RatesProviderProtocol)
        await provider.close()  # no session was created: nothing to close, no error


def test_registry_price_fields() -> None:
    registry = create_registry(include_entry_points=False)
    assert registry.get("rapira").price_fields == {"close", "ask", "bid", "mid"}
    assert registry.get("apilayer").price_fields == {"close"}


def test_duplicate_kind_names_both_targets() -> None:
    with pytest.raises(ProviderConfigError) as info:
        ProviderRegistry(
            [
                Registration("rapira", "providers.rapira:RapiraProvider", "built-in"),
                Registration("rapira", "other_pkg.rates:Rapira", "entry point from other-pkg"),
            ]
        )
    message = str(info.value)
    assert "providers.rapira:RapiraProvider (built-in)" in message
    assert "other_pkg.rates:Rapira (entry point from other-pkg)" in message


def test_unimportable_target_is_a_config_error() -> None:
    registry = ProviderRegistry([Registration("ghost", "no_such_module_xyz:Ghost", "built-in")])
    with pytest.raises(ProviderConfigError, match="cannot load no_such_module_xyz:Ghost"):
        registry.get("ghost")


def test_entry_point_plugin_is_found(installed_plugin: str) -> None:
    registry = create_registry()
    assert installed_plugin in registry.kinds
    plugin = registry.get(installed_plugin)
    assert plugin.__name__ == "DeskProvider"  # type: ignore[attr-defined]
    assert {"static", "rapira", "apilayer"} <= set(registry.kinds)


def test_entry_point_clashing_with_a_builtin_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "clash-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: clash\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nrapira = clash:Rapira\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ProviderConfigError) as info:
        create_registry()
    assert "providers.rapira:RapiraProvider (built-in)" in str(info.value)
    assert "clash:Rapira (entry point from clash)" in str(info.value)
