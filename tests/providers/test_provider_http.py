"""The HTTP boundary: every transport, HTTP and body failure maps into providers.errors.

Bodies here are generic transport failures (empty 5xx, an nginx 502 page, cut JSON), not
vendor formats; vendor bodies are exercised by the contract suite.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

import aiohttp
import pytest
from fake_upstream import HTML_502, FakeUpstream, Reply, unused_port

from providers.base import ProviderConfig, RequestCountingProtocol
from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from providers.http import (
    MAX_PRICE,
    MIN_PRICE,
    BaseHttpProvider,
    create_http_session,
    describe_value,
    epoch_seconds,
    get_json,
    parse_json,
    usable_price,
)

PATH = "/v1/rates"
SECRET = "s3cr3t-KEY-0123456789"
OK = b'{"ok": true, "rate": 94.76}'


async def call(
    session: aiohttp.ClientSession,
    url: str,
    *,
    seconds: float = 0.3,
    retries: int = 0,
) -> tuple[object, object]:
    return await get_json(
        session,
        "fake",
        url,
        headers={"apikey": SECRET},
        params={"base": "RUB", "symbols": "USD,EUR"},
        timeout_seconds=seconds,
        retries=retries,
    )


# status, body, headers -> the error it must become
FAILURES = [
    pytest.param(401, b"", {}, ProviderAuthError, id="401"),
    pytest.param(403, b"", {}, ProviderAuthError, id="403"),
    pytest.param(404, b"", {}, ProviderResponseError, id="404"),
    pytest.param(400, b'{"message": "bad request"}', {}, ProviderResponseError, id="400"),
    pytest.param(429, b"", {}, ProviderRateLimitedError, id="429-no-retry-after"),
    pytest.param(429, b"", {"Retry-After": "120"}, ProviderRateLimitedError, id="429-retry-after"),
    pytest.param(500, b"", {}, ProviderUnavailableError, id="500"),
    pytest.param(503, b"", {}, ProviderUnavailableError, id="503"),
    pytest.param(502, HTML_502, {}, ProviderUnavailableError, id="502-html"),
    pytest.param(200, OK[:15], {}, ProviderResponseError, id="200-truncated-json"),
    pytest.param(200, HTML_502, {}, ProviderResponseError, id="200-html"),
    pytest.param(200, b"rate=94.76", {}, ProviderResponseError, id="200-not-json"),
    pytest.param(200, b"", {}, ProviderResponseError, id="200-empty"),
    pytest.param(200, b"\xff\xfe{}", {}, ProviderResponseError, id="200-not-utf8"),
    pytest.param(302, b"", {}, ProviderResponseError, id="3xx-without-location"),
]


@pytest.mark.parametrize(("status", "body", "headers", "expected"), FAILURES)
async def test_every_http_failure_is_mapped(
    upstream: FakeUpstream,
    http_session: aiohttp.ClientSession,
    status: int,
    body: bytes,
    headers: dict[str, str],
    expected: type[ProviderError],
) -> None:
    upstream.serve(PATH, Reply(status, body, headers))
    with pytest.raises(expected) as info:
        await call(http_session, upstream.url + PATH)
    assert type(info.value) is expected
    assert info.value.provider == "fake"
    assert SECRET not in str(info.value)
    assert "symbols" not in str(info.value)
    if status != 200:
        assert f"HTTP {status}" in info.value.message
    elif body:
        assert isinstance(info.value.__cause__, ValueError)  # the JSON or decoding error


async def test_429_carries_retry_after(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(429, headers={"Retry-After": "120"}))
    with pytest.raises(ProviderRateLimitedError) as info:
        await call(http_session, upstream.url + PATH, retries=3)
    assert info.value.retry_after == 120
    assert len(upstream.calls()) == 1  # far beyond the deadline: not retried


async def test_429_without_retry_after_has_none(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(429))
    with pytest.raises(ProviderRateLimitedError) as info:
        await call(http_session, upstream.url + PATH, retries=3)
    assert info.value.retry_after is None
    assert len(upstream.calls()) == 1  # a quota, not a blip: not retried


async def test_429_with_http_date_retry_after_is_parsed(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(ProviderRateLimitedError) as info:
        await call(http_session, upstream.url + PATH)
    assert info.value.retry_after == 0.0  # a date in the past: retry now


async def test_connection_refused_is_unavailable(http_session: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{unused_port()}{PATH}"
    with pytest.raises(ProviderUnavailableError) as info:
        await call(http_session, url)
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert "cannot connect" in info.value.message


@pytest.mark.slow  # waits for the deadline
async def test_timeout_is_unavailable_within_deadline(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(200, OK, delay=5))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderUnavailableError) as info:
        await call(http_session, upstream.url + PATH, seconds=0.2)
    assert loop.time() - started < 0.5
    assert isinstance(info.value.__cause__, TimeoutError)
    assert info.value.message == "no answer within 0.2 s"


async def test_connection_dropped_mid_body_is_unavailable(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(200, OK, drop_after=5))
    with pytest.raises(ProviderUnavailableError) as info:
        await call(http_session, upstream.url + PATH)
    assert isinstance(info.value.__cause__, aiohttp.ClientError)


async def test_malformed_url_is_a_config_error(http_session: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderConfigError):
        await call(http_session, "not a url/v1/rates")


async def test_json_numbers_are_decimal_and_headers_returned(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(
        PATH, Reply(200, b'{"a": 94.76, "b": 0.005654, "c": 3, "d": [1e-7]}', {"X-Thing": "1"})
    )
    body, headers = await call(http_session, upstream.url + PATH)
    expected = {"a": Decimal("94.76"), "b": Decimal("0.005654"), "c": 3, "d": [Decimal("1e-7")]}
    assert body == expected
    assert isinstance(body, dict)
    assert all(type(v) is Decimal for v in (body["a"], body["b"], body["c"]))
    assert str(body["a"]) == "94.76"
    assert headers["x-thing"] == "1"  # type: ignore[index]


async def test_request_carries_headers_and_params(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(200, OK))
    await call(http_session, upstream.url + PATH)
    [request] = upstream.calls(PATH)
    assert request.method == "GET"
    assert request.headers["apikey"] == SECRET
    assert request.query == {"base": "RUB", "symbols": "USD,EUR"}


def test_parse_json_never_makes_floats() -> None:
    parsed = parse_json('{"x": NaN, "y": Infinity, "z": 1.10}')
    assert all(isinstance(v, Decimal) for v in parsed.values())
    assert parsed["x"].is_nan()
    assert str(parsed["z"]) == "1.10"


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("94.76", True),
        ("0.00565419", True),
        ("1e-9", True),  # MIN_PRICE itself
        ("1e9", True),  # MAX_PRICE itself
        ("60253", True),
        ("79.21000000000001", True),  # a float printed in full: 16 digits
        ("12345678901234567890", False),  # 20 digits, but above the range
        ("1.2345678901234567890", True),  # 20 digits
        ("1.23456789012345678901", False),  # 21 digits
        ("1e999999999", False),
        ("1E+70", False),
        ("-1", False),
        ("0", False),
        ("NaN", False),
        ("Infinity", False),
        ("1e-30", False),
        ("9.99e-10", False),
        ("1000000001", False),
        ("1" + "0" * 399, False),  # 400 digits, out of range
        ("85." + "3" * 398, False),  # 400 digits, in range
    ],
)
def test_usable_price_bounds(text: str, usable: bool) -> None:
    # As the body parser makes JSON numbers (not Decimal(text) directly).
    value = parse_json(text)
    assert isinstance(value, Decimal)
    assert usable_price(value) == (value if usable else None)
    assert (Decimal("1e-9"), Decimal("1e9")) == (MIN_PRICE, MAX_PRICE)


@pytest.mark.parametrize("value", ["85.3", True, None, 85, [Decimal(1)], Decimal("sNaN")])
def test_usable_price_refuses_non_decimals(value: object) -> None:
    assert usable_price(value) is None


def test_describe_value_is_short() -> None:
    assert describe_value(Decimal("1E+70")) == "1E+70"
    assert describe_value("85.3") == "'85.3'"
    assert describe_value(None) == "missing"
    long = describe_value(parse_json("85." + "3" * 398))
    assert long.startswith("85.333") and "(401 chars)" in long and len(long) < 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1655175736", 1655175736.0),
        ("1655175736.5", 1655175736.5),
        ("1655175736000", None),  # milliseconds
        ("0", None),
        ("-5", None),
        ("1e999", None),
        ("NaN", None),
        ('"1655175736"', None),
        ("true", None),
        ("null", None),
    ],
)
def test_epoch_seconds(text: str, expected: float | None) -> None:
    assert epoch_seconds(parse_json(text)) == expected


async def test_secret_echoed_by_the_server_is_masked(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    # Synthesized: a server that echoes the key it rejects, to prove we mask it.
    body = json.dumps({"message": f"Invalid key {SECRET}"}).encode()
    upstream.serve(PATH, Reply(401, body))
    with pytest.raises(ProviderAuthError) as info:
        await call(http_session, upstream.url + PATH)
    assert SECRET not in str(info.value)
    assert "Invalid key ***" in info.value.message


async def test_coingecko_style_status_message_is_the_detail(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    # The envelope shape of coingecko_error_429.json; the vendor test lives in test_coingecko.
    body = b'{"status":{"error_code":400,"error_message":"invalid vs_currency"}}'
    upstream.serve(PATH, Reply(400, body))
    with pytest.raises(ProviderResponseError, match="HTTP 400: invalid vs_currency"):
        await call(http_session, upstream.url + PATH)


# -- request counting -------------------------------------------------------------------------


async def test_on_request_is_called_before_every_attempt(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(503), Reply(503), Reply(200, OK))
    seen: list[int] = []

    def on_request() -> None:
        seen.append(len(upstream.calls(PATH)))  # called before the server saw the attempt

    await get_json(
        http_session,
        "fake",
        upstream.url + PATH,
        timeout_seconds=2.0,
        retries=2,
        on_request=on_request,
    )
    assert seen == [0, 1, 2]


@pytest.mark.slow  # waits for timeouts
async def test_requests_sent_counts_retries_and_timeouts(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    config = ProviderConfig(kind="probe", base_url=upstream.url, retries=2)
    probe = _Probe("probe", config, session=http_session)
    assert isinstance(probe, RequestCountingProtocol)
    upstream.serve(PATH, Reply(503), Reply(503), Reply(200, OK))
    await probe.ping()
    assert probe.requests_sent == 3  # two retries after 503
    upstream.serve(PATH, Reply(200, OK, delay=2))
    config = ProviderConfig(kind="probe", base_url=upstream.url, timeout_seconds=0.3, retries=0)
    slow = _Probe("slow", config, session=http_session)
    with pytest.raises(ProviderUnavailableError):
        await slow.ping()
    assert slow.requests_sent == 1


async def test_connection_refused_attempts_are_counted(
    http_session: aiohttp.ClientSession,
) -> None:
    config = ProviderConfig(
        kind="probe", base_url=f"http://127.0.0.1:{unused_port()}", timeout_seconds=1, retries=2
    )
    probe = _Probe("probe", config, session=http_session)
    with pytest.raises(ProviderUnavailableError):
        await probe.ping()
    assert probe.requests_sent == 3


# -- retries ----------------------------------------------------------------------------------


async def test_500_then_200_succeeds_with_two_calls(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(500), Reply(200, OK))
    body, _ = await call(http_session, upstream.url + PATH, seconds=1.0, retries=2)
    assert body == {"ok": True, "rate": Decimal("94.76")}
    assert len(upstream.calls(PATH)) == 2


async def test_429_with_short_retry_after_is_retried(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(429, headers={"Retry-After": "0"}), Reply(200, OK))
    await call(http_session, upstream.url + PATH, seconds=1.0, retries=1)
    assert len(upstream.calls(PATH)) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(401, b"", id="auth"),
        pytest.param(403, b"", id="forbidden"),
        pytest.param(404, b"", id="not-found"),
        pytest.param(200, OK[:10], id="bad-body"),
    ],
)
async def test_not_worth_retrying_is_tried_once(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession, status: int, body: bytes
) -> None:
    upstream.serve(PATH, Reply(status, body), Reply(200, OK))
    with pytest.raises(ProviderError):
        await call(http_session, upstream.url + PATH, seconds=1.0, retries=3)
    assert len(upstream.calls(PATH)) == 1


@pytest.mark.slow  # waits for the deadline
async def test_retries_stop_at_the_deadline(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(503))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderUnavailableError):
        await call(http_session, upstream.url + PATH, seconds=0.4, retries=10)
    assert loop.time() - started < 0.4 + 0.15
    assert 2 <= len(upstream.calls(PATH)) <= 11


@pytest.mark.slow  # waits for the deadline
async def test_slow_attempts_share_one_deadline(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    upstream.serve(PATH, Reply(500, delay=0.15))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ProviderUnavailableError):
        await call(http_session, upstream.url + PATH, seconds=0.5, retries=5)
    assert loop.time() - started < 0.5 + 0.15
    assert len(upstream.calls(PATH)) < 6  # the deadline, not the retry count, ended it


async def test_retry_logs_a_warning_without_secrets(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.serve(PATH, Reply(502, HTML_502), Reply(200, OK))
    with caplog.at_level(logging.WARNING, logger="providers.http"):
        await call(http_session, upstream.url + PATH, seconds=1.0, retries=1)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.name == "providers.http"
    text = record.getMessage()
    assert "HTTP 502" in text
    assert "127.0.0.1/v1/rates" in text
    assert SECRET not in text
    assert "symbols" not in text and "RUB" not in text


# -- session ownership ------------------------------------------------------------------------


class _Probe(BaseHttpProvider):
    async def ping(self) -> object:
        body, _ = await self.request_json(PATH)
        return body


async def test_create_http_session_sizes_the_connector() -> None:
    session = create_http_session(limit=10, limit_per_host=3)
    try:
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert (connector.limit, connector.limit_per_host) == (10, 3)
    finally:
        await session.close()


async def test_shared_session_is_used_and_never_closed(
    upstream: FakeUpstream, http_session: aiohttp.ClientSession
) -> None:
    config = ProviderConfig(kind="probe", base_url=upstream.url)
    upstream.serve(PATH, Reply(200, OK))
    probe = _Probe("probe", config, session=http_session)
    assert probe.session is http_session
    await probe.ping()
    await probe.close()
    assert not http_session.closed


async def test_private_session_is_lazy_and_closed(upstream: FakeUpstream) -> None:
    config = ProviderConfig(kind="probe", base_url=upstream.url + "/")
    upstream.serve(PATH, Reply(200, OK))
    probe = _Probe("probe", config)
    assert probe._session is None  # nothing created before first use
    await probe.ping()
    own = probe.session
    await probe.close()
    assert own.closed


async def test_missing_base_url_is_a_config_error() -> None:
    probe = _Probe("probe", ProviderConfig(kind="probe"))
    with pytest.raises(ProviderConfigError, match="base_url is not set"):
        await probe.ping()
    await probe.close()
