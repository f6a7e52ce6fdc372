"""config.yaml: pydantic models and the loader that reports file:line errors."""

from engine.config.loader import load_config
from engine.config.models import AppConfig

__all__ = ["AppConfig", "load_config"]
