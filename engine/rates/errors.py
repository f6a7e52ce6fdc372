"""Errors of the rates layer.

Provider failures arrive as :class:`~providers.errors.ProviderError`; the service turns
"no usable rate" into one engine error, raised from its cause::

    EngineError
    └── RatesUnavailableError     provider failed / circuit open / budget, and nothing
                                  cached within the stale window; or an unusable quote
"""

from __future__ import annotations

from engine.errors import EngineError


class RatesUnavailableError(EngineError):
    """No usable rate for a direction right now. Never answered with a made-up number."""
