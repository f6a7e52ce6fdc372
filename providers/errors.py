"""The one exception tree every provider raises.

Transport, HTTP and body failures are translated once, at the provider boundary, and the
original exception is kept as ``__cause__``::

    ProviderError
    ├── ProviderUnavailableError     network error, timeout, HTTP 5xx, circuit open
    ├── ProviderRateLimitedError     HTTP 429, quota exhausted
    ├── ProviderAuthError            HTTP 401/403, missing or invalid API key
    ├── ProviderResponseError        unparsable body, success:false, not one requested
    │                                pair servable (a pair missing or with an unusable
    │                                price alone is left out of the result, not raised)
    └── ProviderConfigError          misconfigured or misregistered plugin (start-up)

Above the boundary, code sees only these types.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Root of every provider failure.

    Args:
        provider: the configured provider name (``rapira``, ``apilayer``...).
        message: a short, log-safe description (never contains a key or a token).
    """

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderUnavailableError(ProviderError):
    """The provider cannot be reached now: network, timeout, 5xx, or an open circuit."""


class ProviderRateLimitedError(ProviderError):
    """The provider refuses because of a rate limit or an exhausted quota."""

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    """The provider rejects our credentials (missing, invalid, or not subscribed)."""


class ProviderResponseError(ProviderError):
    """The provider answered, but the answer is unusable."""


class ProviderConfigError(ProviderError):
    """A provider plugin is misconfigured or misregistered (raised at start-up)."""
