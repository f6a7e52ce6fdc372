"""The provider plugin registry.

Built-in plugins are listed in :data:`BUILTIN`; third-party plugins register through the
``crypto_helper.providers`` entry-point group, e.g. in the plugin's ``pyproject.toml``::

    [project.entry-points."crypto_helper.providers"]
    mydesk = "mydesk_rates:MyDeskProvider"

and are then named in ``config.yaml`` as ``kind: mydesk``. A name registered twice fails at
start-up with both registrations named (the pluggy rule: fail fast at construction).
Plugins are imported lazily, so ``crypto-helper check`` stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

from providers.base import ProviderConfig, RatesProviderProtocol
from providers.errors import ProviderConfigError

ENTRY_POINT_GROUP = "crypto_helper.providers"

BUILTIN: Mapping[str, str] = {
    "static": "providers.static:StaticProvider",
    "rapira": "providers.rapira:RapiraProvider",
    "apilayer": "providers.apilayer:ApiLayerProvider",
    "cbr": "providers.cbr:CbrProvider",
    "coingecko": "providers.coingecko:CoinGeckoProvider",
}


class ProviderPluginProtocol(Protocol):
    """A provider class: validates its own config and builds instances."""

    config_model: type[ProviderConfig]
    price_fields: frozenset[str]
    needs_network: bool

    def __call__(
        self, name: str, config: Any, *, session: Any = None, api_key: str | None = None
    ) -> RatesProviderProtocol: ...


@dataclass(frozen=True, slots=True)
class Registration:
    kind: str
    target: str  # "module:attr"
    origin: str  # "built-in" or "entry point from <distribution>"


class ProviderRegistry:
    """Maps a plugin kind to its class; rejects duplicates."""

    def __init__(self, registrations: Iterable[Registration]) -> None:
        self._by_kind: dict[str, Registration] = {}
        for reg in registrations:
            if reg.kind in self._by_kind:
                first = self._by_kind[reg.kind]
                raise ProviderConfigError(
                    reg.kind,
                    f"provider kind registered twice: {first.target} ({first.origin}) "
                    f"and {reg.target} ({reg.origin})",
                )
            self._by_kind[reg.kind] = reg
        self._loaded: dict[str, ProviderPluginProtocol] = {}

    @property
    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def get(self, kind: str) -> ProviderPluginProtocol:
        """The plugin class for ``kind``, imported on first use.

        Raises:
            KeyError: no such kind.
            ProviderConfigError: the registered target cannot be imported.
        """
        if kind in self._loaded:
            return self._loaded[kind]
        reg = self._by_kind[kind]
        module_name, _, attr = reg.target.partition(":")
        try:
            plugin: ProviderPluginProtocol = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ProviderConfigError(kind, f"cannot load {reg.target}: {exc}") from exc
        self._loaded[kind] = plugin
        return plugin


def create_registry(*, include_entry_points: bool = True) -> ProviderRegistry:
    """The registry of built-in plugins plus every installed entry-point plugin."""
    regs = [Registration(kind, target, "built-in") for kind, target in BUILTIN.items()]
    if include_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            regs.append(Registration(ep.name, ep.value, f"entry point from {dist}"))
    return ProviderRegistry(regs)
