"""Errors of the rates layer.

Provider failures arrive as :class:`~providers.errors.ProviderError`; the service turns
"no usable rate" into one engine error, raised from its cause::

    EngineError
    └── RatesUnavailableError     every provider of a leg failed / circuit open / budget,
                                  and nothing usable cached; or the rate cannot be computed

    ProviderError
    └── ProviderUnavailableError
        └── PluginFailedError     a plugin raised something unexpected (its bug)
"""

from __future__ import annotations

from engine.errors import EngineError
from providers.errors import ProviderUnavailableError


class RatesUnavailableError(EngineError):
    """No usable rate for a direction right now. Never answered with a made-up number."""


class PluginFailedError(ProviderUnavailableError):
    """A provider plugin raised something other than a ProviderError: a bug, not an outage.

    Logged once with its traceback where it happened; above that it is one more reason
    the provider cannot serve now (the next source is asked). It does not count towards
    the circuit breaker: the vendor is not down.
    """
