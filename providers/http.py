"""HTTP plumbing shared by the network providers: one session, one JSON GET.

The engine creates **one** :class:`aiohttp.ClientSession` per process with
:func:`create_http_session` and passes it to every provider; a provider built without one
creates its own lazily and closes it in ``close()`` (see :class:`BaseHttpProvider`).

:func:`get_json` is the boundary: it is the only place that sees aiohttp exceptions, HTTP
statuses and raw bodies, and it translates every failure into :mod:`providers.errors`
exactly once, keeping the original exception as ``__cause__``:

=====================================  ===========================  =========
failure                                raised                       retried
=====================================  ===========================  =========
connection refused, DNS, reset, TLS    ProviderUnavailableError     yes
no answer before the deadline          ProviderUnavailableError     yes [1]_
HTTP 5xx (any body)                    ProviderUnavailableError     yes
HTTP 429 with ``Retry-After`` ≤ budget  ProviderRateLimitedError     yes [1]_
HTTP 429 without it, or a long one     ProviderRateLimitedError     no
HTTP 401, 403                          ProviderAuthError            no
other HTTP 4xx / 3xx                   ProviderResponseError        no
2xx with a non-JSON / truncated body   ProviderResponseError        no
malformed ``base_url``                 ProviderConfigError          no
=====================================  ===========================  =========

.. [1] only while the call's deadline leaves room for another attempt.

The whole call, retries and back-off sleeps included, fits in ``timeout_seconds``. JSON
numbers are parsed as :class:`~decimal.Decimal` (``NaN``/``Infinity`` too), never float.
Every attempt is reported to ``on_request`` right before it is sent (so an attempt that
times out counts too); :attr:`BaseHttpProvider.requests_sent` is built on it.

A price is usable (:func:`usable_price`) when it is a finite Decimal JSON number with
:data:`MIN_PRICE` ≤ p ≤ :data:`MAX_PRICE` and at most :data:`MAX_PRICE_DIGITS`
significant digits. Every rate this bot quotes (a rupiah in roubles, a bitcoin in
roubles) lies well inside 1e-9 … 1e9, and vendors publish at most 17 significant digits
(a float printed in full); anything else, ``1e999999999``, ``1E+70``, a 400-digit
number, is a broken answer, and accepting it would either overflow the Decimal context in
the engine's arithmetic or put a nonsense rate on a customer's screen.
Messages and log lines name the provider, the host and the path, never the query string
nor a header value we sent (an API key travels in a header).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.stop import stop_after_attempt, stop_base
from tenacity.wait import wait_base
from yarl import URL

from providers.base import BaseProvider, ProviderConfig
from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderUnavailableError,
)

logger = logging.getLogger("providers.http")

DEFAULT_LIMIT = 64
"""Connections the shared session keeps open in total."""
DEFAULT_LIMIT_PER_HOST = 8
"""Connections per upstream host: a few concurrent fetches, not a flood."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""A rates document is kilobytes; anything this large is not one."""
USER_AGENT = "crypto-helper (aiohttp)"

MIN_PRICE = Decimal("1e-9")
"""The smallest usable price (inclusive)."""
MAX_PRICE = Decimal("1e9")
"""The largest usable price (inclusive)."""
MAX_PRICE_DIGITS = 20
"""Significant digits a usable price may have, as written (trailing zeros count)."""
MIN_EPOCH = 946_684_800
"""2000-01-01T00:00:00Z: a vendor timestamp before it is not a sane one."""
MAX_EPOCH = 4_102_444_800
"""2100-01-01T00:00:00Z: nor is one after it."""

OnResponse = Callable[[int, Mapping[str, str]], None]
"""Called with the status and headers of every HTTP response, failed ones included."""
OnRequest = Callable[[], None]
"""Called right before every attempt is sent (retries included)."""

_DETAIL_MAX_CHARS = 160
_VALUE_MAX_CHARS = 24


def create_http_session(
    *,
    limit: int = DEFAULT_LIMIT,
    limit_per_host: int = DEFAULT_LIMIT_PER_HOST,
    trust_env: bool = False,
) -> aiohttp.ClientSession:
    """Create the process-wide HTTP session that every provider shares.

    Call it from a running event loop (aiohttp binds the session to it) and close it
    with ``await session.close()`` at shutdown, after the providers' ``close()``.

    Args:
        limit: connections open at once across all hosts.
        limit_per_host: connections open at once to one host.
        trust_env: honour ``HTTP(S)_PROXY`` / ``NO_PROXY`` and ``~/.netrc``.
    """
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit_per_host, ttl_dns_cache=300)
    # Each request sets its own deadline (see get_json); this one only bounds stray uses.
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        timeout=aiohttp.ClientTimeout(total=30),
        trust_env=trust_env,
    )


async def get_json(
    session: aiohttp.ClientSession,
    provider_name: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    timeout_seconds: float,
    retries: int,
    on_response: OnResponse | None = None,
    on_request: OnRequest | None = None,
) -> tuple[Any, Mapping[str, str]]:
    """GET ``url`` and parse its JSON body, retrying transient failures within a deadline.

    Args:
        session: the shared session (never closed here).
        provider_name: the configured provider name, used in messages and logs.
        url: the endpoint, without a query string.
        headers: request headers; their values are masked in any error message.
        params: the query string.
        timeout_seconds: the whole call, every attempt and back-off sleep included.
        retries: extra attempts after the first for failures worth retrying.
        on_response: called with the status and headers of every response received.
        on_request: called right before each attempt is sent, retries included; an
            attempt that then times out or fails to connect has been counted.

    Returns:
        The decoded body (objects, lists, ``str``, ``bool``, ``None`` and ``Decimal``)
        and the response headers (case-insensitive).

    Raises:
        ProviderError: a subclass, as the module docstring tabulates.
    """
    timeout = timeout_seconds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    target = _describe_target(url)
    secrets = tuple(v for v in (headers or {}).values() if len(v) >= 4)
    backoff_first = min(max(timeout / 20, 0.01), 0.25)
    # An attempt with less time than this left is not worth starting.
    min_attempt = min(timeout / 5, 0.5)

    async def attempt() -> tuple[Any, Mapping[str, str]]:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise ProviderUnavailableError(provider_name, f"no answer within {timeout:g} s")
        if on_request is not None:
            on_request()
        return await _get_once(
            session,
            provider_name,
            url,
            headers=headers,
            params=params,
            attempt_timeout=remaining,
            call_timeout=timeout,
            secrets=secrets,
            on_response=on_response,
        )

    def worth_retrying(exc: BaseException) -> bool:
        if isinstance(exc, ProviderRateLimitedError):
            return exc.retry_after is not None and exc.retry_after <= timeout
        return isinstance(exc, ProviderUnavailableError)

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            "%s: %s failed (attempt %d of %d): %s; retrying in %.2f s",
            provider_name,
            target,
            state.attempt_number,
            retries + 1,
            exc.message if isinstance(exc, ProviderError) else type(exc).__name__,
            state.upcoming_sleep,
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(retries + 1) | _StopBeforeDeadline(deadline, min_attempt),
        wait=_JitteredBackoff(first=backoff_first, cap=timeout / 4),
        retry=retry_if_exception(worth_retrying),
        before_sleep=log_retry,
        reraise=True,
        sleep=asyncio.sleep,
    )
    try:
        # A hard guard on top of aiohttp's per-attempt timeout: nothing outlives the deadline.
        async with asyncio.timeout_at(deadline):
            result: tuple[Any, Mapping[str, str]] = await retrying(attempt)
    except TimeoutError as exc:
        raise ProviderUnavailableError(provider_name, f"no answer within {timeout:g} s") from exc
    return result


async def _get_once(
    session: aiohttp.ClientSession,
    provider_name: str,
    url: str,
    *,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    attempt_timeout: float,
    call_timeout: float,
    secrets: tuple[str, ...],
    on_response: OnResponse | None,
) -> tuple[Any, Mapping[str, str]]:
    """One request: transport failures and statuses become provider errors."""
    try:
        async with session.get(
            url,
            headers=headers,
            params=params,
            timeout=aiohttp.ClientTimeout(total=attempt_timeout),
        ) as resp:
            if on_response is not None:
                on_response(resp.status, resp.headers)
            raw = await _read_body(resp, provider_name)
            status, resp_headers, charset = resp.status, resp.headers, resp.charset
            content_type = resp.content_type
    except TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
        raise ProviderUnavailableError(
            provider_name, f"no answer within {call_timeout:g} s"
        ) from exc
    except aiohttp.InvalidURL as exc:
        raise ProviderConfigError(provider_name, "base_url is not a valid URL") from exc
    except aiohttp.ClientConnectorError as exc:
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        raise ProviderUnavailableError(
            provider_name, f"cannot connect to {exc.host}:{exc.port}: {reason}"
        ) from exc
    except aiohttp.ClientError as exc:
        raise ProviderUnavailableError(
            provider_name, f"transport error: {type(exc).__name__}"
        ) from exc

    if 200 <= status < 300:
        return _decode_json(raw, charset, content_type, provider_name), resp_headers

    detail = _error_detail(raw, charset, secrets)
    what = f"HTTP {status}{': ' + detail if detail else ''}"
    if status in (401, 403):
        raise ProviderAuthError(provider_name, what)
    if status == 429:
        retry_after = _parse_retry_after(resp_headers.get("Retry-After"))
        raise ProviderRateLimitedError(provider_name, what, retry_after=retry_after)
    if status >= 500:
        raise ProviderUnavailableError(provider_name, what)
    raise ProviderResponseError(provider_name, what)


async def _read_body(resp: aiohttp.ClientResponse, provider_name: str) -> bytes:
    if resp.content_length is not None and resp.content_length > MAX_BODY_BYTES:
        raise ProviderResponseError(provider_name, f"body of {resp.content_length} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ProviderResponseError(provider_name, f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(text: str | bytes) -> Any:
    """Parse JSON with every number as :class:`~decimal.Decimal`.

    ``NaN`` and ``Infinity`` become ``Decimal('NaN')`` / ``Decimal('Infinity')`` so that
    validation, not parsing, rejects them, and no float ever appears.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError`` or a decoding error).
    """
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal)


def usable_price(value: object) -> Decimal | None:
    """``value`` if it is a usable price (see the module docstring), else ``None``.

    Usable: a finite ``Decimal`` (as :func:`parse_json` makes JSON numbers) within
    :data:`MIN_PRICE` … :data:`MAX_PRICE` with at most :data:`MAX_PRICE_DIGITS`
    significant digits. Anything else (missing, a string such as ``"85.3"``, a bool, zero,
    negative, NaN, infinite, ``1E+70``, ``1e-30``, 400 digits) gives ``None``.
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    if len(value.as_tuple().digits) > MAX_PRICE_DIGITS:
        return None
    return value if in_price_range(value) else None


def in_price_range(value: Decimal) -> bool:
    """``MIN_PRICE ≤ value ≤ MAX_PRICE``: for prices a provider derives (an inverse, a
    rate per unit), whose digit count is the division's, not the vendor's."""
    return value.is_finite() and MIN_PRICE <= value <= MAX_PRICE


def describe_value(value: object) -> str:
    """A short, log-safe rendering of a price as found in a body: ``1E+70``, ``'85.3'``,
    ``missing``; cut to a couple of dozen characters (a 400-digit number is not logged
    whole)."""
    if value is None:
        return "missing"
    text = str(value) if isinstance(value, Decimal) else repr(value)
    if len(text) > _VALUE_MAX_CHARS:
        text = text[: _VALUE_MAX_CHARS - 1] + f"… ({len(text)} chars)"
    return text


def epoch_seconds(value: object) -> float | None:
    """A vendor's Unix timestamp (seconds) as a float, if it is a sane one, else ``None``.

    Sane: a finite ``Decimal`` between :data:`MIN_EPOCH` and :data:`MAX_EPOCH` (a bool, a
    string, milliseconds or ``1e999`` are not).
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    if not MIN_EPOCH <= value <= MAX_EPOCH:
        return None
    return float(value)


def _decode_json(raw: bytes, charset: str | None, content_type: str, provider_name: str) -> Any:
    if not raw.strip():
        raise ProviderResponseError(provider_name, "empty body where JSON was expected")
    try:
        return parse_json(raw.decode(charset or "utf-8"))
    except (ValueError, LookupError, RecursionError) as exc:
        kind = "HTML" if raw.lstrip()[:1] == b"<" else "not valid JSON (truncated?)"
        raise ProviderResponseError(
            provider_name, f"body is {kind}: {content_type}, {len(raw)} bytes"
        ) from exc


def _error_detail(raw: bytes, charset: str | None, secrets: tuple[str, ...]) -> str:
    """A short, log-safe description from a JSON error body; empty for anything else."""
    try:
        body = parse_json(raw.decode(charset or "utf-8"))
    except (ValueError, LookupError, RecursionError):
        return ""  # an HTML error page says nothing the status does not
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    if isinstance(body.get("message"), str):
        parts.append(body["message"])
    status = body.get("status")  # CoinGecko: {"status": {"error_code": .., "error_message": ..}}
    if isinstance(status, dict) and isinstance(status.get("error_message"), str):
        parts.append(status["error_message"])
    error = body.get("error")
    if isinstance(error, dict):
        parts.extend(str(error[key]) for key in ("type", "info") if key in error)
    elif isinstance(error, str):
        parts.append(error)
    detail = " ".join(" ".join(parts).split())
    for secret in secrets:
        detail = detail.replace(secret, "***")
    if len(detail) > _DETAIL_MAX_CHARS:
        detail = detail[: _DETAIL_MAX_CHARS - 1] + "…"
    return detail


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe_target(url: str) -> str:
    """``host/path`` for messages and logs: no scheme credentials, no query string."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "the configured URL"
    return f"{parsed.host or ''}{parsed.path}"


class _StopBeforeDeadline(stop_base):
    """Stop when the next attempt would start too close to (or after) the deadline."""

    def __init__(self, deadline: float, min_attempt: float) -> None:
        self._deadline = deadline
        self._min_attempt = min_attempt

    def __call__(self, retry_state: RetryCallState) -> bool:
        now = asyncio.get_running_loop().time()
        return now + retry_state.upcoming_sleep + self._min_attempt > self._deadline


class _JitteredBackoff(wait_base):
    """Exponential back-off with "equal jitter"; a short ``Retry-After`` wins if longer.

    Half of each step is fixed and half random, so retries from many processes spread out
    without ever collapsing to zero.
    """

    def __init__(self, *, first: float, cap: float) -> None:
        self._first = first
        self._cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        step = min(self._cap, self._first * 2.0 ** (retry_state.attempt_number - 1))
        sleep = step / 2 + random.uniform(0, step / 2)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, ProviderRateLimitedError) and exc.retry_after is not None:
            sleep = max(sleep, exc.retry_after)
        return sleep


class BaseHttpProvider(BaseProvider):
    """Base for providers that speak HTTP: owns the session only if it created it.

    Args:
        name: the configured provider name (also the ``source`` of its quotes).
        config: the validated config block.
        session: the process-wide session from :func:`create_http_session`; without one,
            a private session is created on first use and closed by :meth:`close`.
        api_key: the secret read from ``config.api_key_env`` by the engine, if any.
    """

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        api_key: str | None = None,
    ) -> None:
        super().__init__(name, config)
        self._session = session
        self._owns_session = False
        self._api_key = api_key or None
        self._requests_sent = 0

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.config.base_url!r})"

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent since construction: every attempt, retries included, and
        ones that then timed out (see :class:`~providers.base.RequestCountingProtocol`)."""
        return self._requests_sent

    def _count_request(self) -> None:
        self._requests_sent += 1

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session requests go through (created lazily when none was passed)."""
        if self._session is None:
            self._session = create_http_session(limit_per_host=DEFAULT_LIMIT_PER_HOST)
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        """Close the private session, if this provider created one; never a shared one."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
            self._owns_session = False

    def endpoint(self, path: str) -> str:
        """``config.base_url`` joined with ``path``.

        Raises:
            ProviderConfigError: ``base_url`` is not set.
        """
        if not self.config.base_url:
            raise ProviderConfigError(self.name, "base_url is not set")
        return self.config.base_url.rstrip("/") + "/" + path.lstrip("/")

    async def request_json(
        self,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        on_response: OnResponse | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """:func:`get_json` on ``base_url + path`` with this provider's timeout and retries;
        every attempt counts in :attr:`requests_sent`."""
        return await get_json(
            self.session,
            self.name,
            self.endpoint(path),
            headers=headers,
            params=params,
            timeout_seconds=self.config.timeout_seconds,
            retries=self.config.retries,
            on_response=on_response,
            on_request=self._count_request,
        )
