"""Choice step buttons, computed from config.yaml (so a new currency needs no code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.config.models import AppConfig
from engine.flow.schema import OptionsSpec


def option_codes(spec: OptionsSpec, config: AppConfig, data: Mapping[str, Any]) -> list[str]:
    """Currency codes offered by a choice step, in config order."""
    if spec.from_ == "currencies":
        return config.currency_codes
    if spec.of is None:
        return list(config.directions)
    return list(config.directions.get(str(data.get(spec.of)), []))
