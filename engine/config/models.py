"""Pydantic models of config.yaml.

Structure only: each model checks its own fields. Checks that cross sections (a direction
naming an unknown currency, a rule naming an unknown provider) live in
:mod:`engine.config.semantic`, so that every problem is reported at once.
"""

from __future__ import annotations

import decimal
import difflib
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Self, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    field_validator,
    model_validator,
)

from providers.base import Pair, PriceField, ProviderConfig

RoundingMode = Literal[
    "ROUND_HALF_UP",
    "ROUND_HALF_EVEN",
    "ROUND_HALF_DOWN",
    "ROUND_UP",
    "ROUND_DOWN",
    "ROUND_CEILING",
    "ROUND_FLOOR",
    "ROUND_05UP",
]
ROUNDING_MODES: tuple[str, ...] = get_args(RoundingMode)
assert set(ROUNDING_MODES) == {getattr(decimal, m) for m in ROUNDING_MODES}

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
LocaleCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
Amount = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


def _pair_text(value: object) -> object:
    if isinstance(value, str):
        return str(Pair.parse(value))
    return value


PairText = Annotated[str, BeforeValidator(_pair_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CurrencyConfig(_Model):
    """One currency the desk deals in."""

    code: CurrencyCode = Field(
        description="the code shown on buttons and cards: 2–10 capital letters or digits, "
        "starting with a letter, like USDT"
    )
    kind: Literal["fiat", "crypto"] = Field(
        description="fiat: a country's money (its code should be an ISO 4217 one, like EUR); "
        "crypto: a coin or token"
    )
    emoji: str = Field(default="", description="shown before the code, like 🇷🇺")
    name: dict[str, str] = Field(description="display name per locale")
    decimals: int = Field(
        default=2, ge=0, le=8, description="how many decimals amounts are shown and typed with"
    )
    min_amount: Amount = Field(
        default=Decimal(1), description="the smallest amount that may be typed in it"
    )
    max_amount: Amount = Field(
        default=Decimal(100_000_000), description="the largest amount that may be typed in it"
    )
    aliases: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=list,
        description="words that name this currency in a one-line quote (case-insensitive; "
        "the code itself always works): [руб, рубли, ₽]",
    )

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_amount >= self.max_amount:
            raise ValueError(
                f"min_amount ({self.min_amount}) must be less than max_amount ({self.max_amount})"
            )
        return self


class SidePrice(_Model):
    """Price field chosen by the side of the deal, seen from the client."""

    client_buys: PriceField = Field(
        default="close", description="the price used when the client buys the asset"
    )
    client_sells: PriceField = Field(
        default="close", description="the price used when the client sells the asset"
    )


class RoutingRule(_Model):
    """``pairs`` are served by ``provider`` using ``price``.

    ``provider`` is one name or an ordered list of fallbacks (``[apilayer, cbr]``): when
    the first cannot serve a pair (an error, an open circuit, its budget spent, nothing
    usable cached), the next one is asked.
    """

    pairs: list[PairText] = Field(
        min_length=1, description="the pairs this rule quotes, like USDT/RUB or USD/RUB"
    )
    provider: str | list[str] = Field(
        description="provider name, or an ordered list of fallbacks: [apilayer, cbr]"
    )
    price: PriceField | SidePrice = Field(
        default="close",
        description="which of the source's prices is used: close, ask, bid or mid; or one "
        "per side of the deal: {client_buys: ask, client_sells: bid}",
    )

    @field_validator("provider")
    @classmethod
    def _some_provider(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("name at least one provider")
        if len(set(names)) != len(names):
            raise ValueError("each provider may be listed once")
        return value

    @property
    def providers(self) -> tuple[str, ...]:
        """The providers in fallback order."""
        return (self.provider,) if isinstance(self.provider, str) else tuple(self.provider)


class RoutingConfig(_Model):
    """Which provider quotes which pair, and how rates are shown.

    ``rate_decimals`` and ``min_significant`` are display minimums; every rate gets more
    decimals where ``max_rounding_percent`` needs them (see :mod:`engine.rates.quote`).
    """

    pivot: CurrencyCode = Field(
        default="RUB",
        description="the currency other pairs are crossed through: USDT→THB is quoted as "
        "USDT→RUB→THB",
    )
    rules: list[RoutingRule] = Field(
        min_length=1, description="which provider quotes which pairs, with which price"
    )
    price_order: list[CurrencyCode] = Field(
        default_factory=list,
        description="which currency is the price side when a rate is shown, first wins: "
        "[RUB] shows 1 USDT = 85.30 RUB (the pivot comes first unless listed)",
    )
    rate_decimals: int = Field(
        default=2, ge=0, le=8, description="at least this many decimals in a shown rate"
    )
    min_significant: int = Field(
        default=4, ge=1, le=12, description="at least this many significant digits in a rate"
    )
    rounding: RoundingMode = Field(
        default="ROUND_HALF_UP",
        description="how the market rate shown beside the client's rate is rounded",
    )
    # Not gt=0 here: engine.config.semantic says in plain words why 0 cannot be met.
    max_rounding_percent: Decimal = Field(
        default=Decimal("0.015"),
        allow_inf_nan=False,
        description="rounding a shown rate towards the desk adds at most this many "
        "percentage points to the typed margin",
    )

    def bound_places(self, rate: Decimal) -> int:
        """Fewest decimals at which one unit of the last place of ``rate`` is at most
        ``max_rounding_percent`` percent of ``rate`` (may be negative for large rates).

        Raises:
            ValueError: ``rate`` or ``max_rounding_percent`` is not positive.
        """
        if rate <= 0 or self.max_rounding_percent <= 0:
            raise ValueError(
                f"a rate and max_rounding_percent must be positive, got {rate} and "
                f"{self.max_rounding_percent}"
            )
        with decimal.localcontext() as ctx:
            # Rounding down here can cost one decimal more than needed, never one too few.
            ctx.prec, ctx.rounding = 60, decimal.ROUND_FLOOR
            tolerance = rate * self.max_rounding_percent / 100
        # 10 ** tolerance.adjusted() <= tolerance < 10 ** (tolerance.adjusted() + 1)
        return -tolerance.adjusted()


class CacheConfig(_Model):
    """How long fetched rates are kept and reused."""

    max_size: int = Field(
        default=256, ge=1, le=1_000_000, description="rates kept at most (provider × pair)"
    )
    ttl_seconds: float = Field(
        default=60, gt=0, description="a fetched rate is fresh this long, then fetched again"
    )
    max_stale_seconds: float = Field(
        default=900,
        ge=0,
        description="after that, still quoted this much longer (its age shown) while it "
        "refreshes; past it, the card says the rate is unavailable",
    )


class BreakerConfig(_Model):
    """Per-provider circuit breaker: opens after ``failure_threshold`` failures in a row."""

    failure_threshold: int = Field(
        default=5, ge=1, le=1000, description="failures in a row after which it is rested"
    )
    open_seconds: float = Field(
        default=30, gt=0, le=3600, description="how long it is rested before it is asked again"
    )


class GuardConfig(_Model):
    """What keeps an absurd or unconfirmed price off the cards."""

    max_jump_percent: Decimal = Field(
        default=Decimal(10),
        gt=0,
        le=1000,
        description="a new price this far from the last accepted one for its pair is held",
    )
    confirm_after_seconds: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="a held price is accepted once it has persisted this long "
        "(or as soon as another source confirms it)",
    )
    max_disagreement_percent: Decimal = Field(
        default=Decimal(3),
        gt=0,
        le=1000,
        description="two sources of one pair further apart than this are logged and "
        "shown on /rates",
    )


class BudgetConfig(_Model):
    """How metered providers (those with ``monthly_budget``) spend their plan."""

    use_percent: Decimal = Field(
        default=Decimal(90),
        gt=0,
        le=100,
        description="pacing spends at most this share of monthly_budget, retries included",
    )
    burst: int = Field(
        default=3,
        ge=1,
        le=100,
        description="requests that may be spent ahead of the even pace (retries after "
        "a failure, a start-up)",
    )
    stop_below_remaining: int = Field(
        default=3,
        ge=0,
        description="no more calls once the vendor reports this few requests left this month",
    )


class QuoteConfig(_Model):
    """Quotes: one-line quotes (``/q 1000 rub usdt 2``) and what the client is told."""

    default_margin: Decimal = Field(
        default=Decimal(1),
        ge=0,
        allow_inf_nan=False,
        description="margin % used when a one-line quote names none; the card shows it",
    )
    valid_minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="how long the client's quote says its rate holds, in minutes",
    )


class PreloadConfig(_Model):
    """Rates fetched ahead, so a quote does not wait for them."""

    enabled: bool = Field(default=True, description="fetch the pairs ahead of quotes")
    interval_seconds: float = Field(default=60, ge=1, description="how often they are fetched")
    pairs: list[PairText] = Field(
        default_factory=list, description="the pairs fetched ahead, like USDT/RUB"
    )


class BotCommandConfig(_Model):
    """One command of the bot's menu."""

    command: str = Field(
        pattern=r"^[a-z0-9_]{1,32}$", description="the command without the /, like rates"
    )
    description: dict[str, str] = Field(description="what the menu says of it, per locale")


class BotConfig(_Model):
    """The Telegram side: who may use the bot, its language, how updates arrive, its menu."""

    admin_ids: list[int] = Field(
        default_factory=list,
        description="Telegram user ids allowed to use the bot (ADMIN_IDS adds more)",
    )
    default_locale: LocaleCode = Field(
        default="ru",
        description="the language used when a user's Telegram language is not in locales",
    )
    mode: Literal["polling", "webhook"] = Field(
        default="polling",
        description="polling: the bot asks Telegram for updates; webhook: Telegram sends "
        "them to WEBHOOK_URL (behind a load balancer)",
    )
    webhook_path: str = Field(
        default="/telegram/webhook",
        pattern=r"^/[A-Za-z0-9/_-]*$",
        description="the path Telegram posts updates to, with mode webhook",
    )
    allow_groups: bool = Field(
        default=False,
        description="answer in group chats too (rates then show where the group can read "
        "them); by default the bot works in private chats only",
    )
    commands: list[BotCommandConfig] = Field(
        default_factory=list, description="the bot's command menu, in this order"
    )
    timezone: str = Field(
        default="Europe/Moscow",
        description="the desk's time zone (a tz database name): where /today and /export "
        "days start and end, and the times they show",
    )
    watch: bool = Field(
        default=False,
        description="true: reload config.yaml, the flows and the templates as soon as one "
        "of them is saved (as SIGHUP or crypto-helper reload do: checked first, kept only "
        "if check passes)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            hint = _zone_hint(value) or (
                "; use a tz database name like Europe/Moscow, Asia/Dubai or UTC"
            )
            raise ValueError(f"{value!r} is not a time zone I know{hint}") from None
        return value

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def _zone_hint(value: str) -> str:
    """`` did you mean 'Europe/Moscow'?`` for ``Europe/Moskow``, ``moscow``, ``Moscow time``
    (the zones' names and their last parts compared without case), or empty."""
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    names = {z.rsplit("/", 1)[-1].casefold(): z for z in zones}
    names.update({z.casefold(): z for z in zones})
    typed = value.strip().casefold().replace(" ", "_")
    match = difflib.get_close_matches(typed, list(names), n=1, cutoff=0.6)
    return f"; did you mean {names[match[0]]!r}?" if match else ""


class JournalConfig(_Model):
    """The quote journal (a database: DATABASE_URL, else a SQLite file in DATA_DIR)."""

    retention_days: int = Field(
        default=365,
        ge=1,
        le=36_500,
        description="quotes older than this many days are removed, once a day",
    )


class StorageConfig(_Model):
    """Where the dialogs in progress are kept."""

    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="memory: in the bot's process; redis: in Redis (REDIS_URL), shared by "
        "replicas and kept across restarts",
    )
    state_ttl_seconds: int = Field(
        default=86_400, ge=60, description="a dialog left idle this long is forgotten"
    )


class ServerConfig(_Model):
    """The health and metrics server (and the webhook)."""

    host: str = Field(
        default="0.0.0.0",
        description="the address it listens on: 0.0.0.0 every interface (containers), "
        "127.0.0.1 this machine only",
    )
    port: int = Field(
        default=8080, ge=1, le=65535, description="its port; PORT in the environment wins"
    )


class AppConfig(_Model):
    """The whole of config.yaml. Paths are absolute once loaded."""

    locales: list[LocaleCode] = Field(
        default_factory=lambda: ["ru", "en"],
        min_length=1,
        description="the languages of the texts: each has a folder templates/<locale>/",
    )
    currencies: list[CurrencyConfig] = Field(
        min_length=2, description="every currency the desk deals in"
    )
    directions: dict[CurrencyCode, list[CurrencyCode]] = Field(
        min_length=1,
        description="for each currency a client may give, the currencies they may get for "
        "it: RUB: [USDT, USD]",
    )
    routing: RoutingConfig = Field(
        description="where each rate comes from, and how rates are rounded and shown"
    )
    providers: dict[str, SerializeAsAny[ProviderConfig]] = Field(
        min_length=1,
        description="the rate sources, each under a name of your choice (routing.rules "
        "names them)",
    )
    cache: CacheConfig = CacheConfig()
    breaker: BreakerConfig = BreakerConfig()
    preload: PreloadConfig = PreloadConfig()
    guard: GuardConfig = GuardConfig()
    budget: BudgetConfig = BudgetConfig()
    quote: QuoteConfig = QuoteConfig()
    bot: BotConfig = BotConfig()
    journal: JournalConfig = JournalConfig()
    storage: StorageConfig = StorageConfig()
    server: ServerConfig = ServerConfig()
    flows: list[Path] = Field(
        default_factory=lambda: [Path("flows/exchange.yaml")],
        min_length=1,
        description="the dialog files, relative to this file; the first is the quote dialog",
    )
    templates_dir: Path = Field(
        default=Path("templates"),
        description="the folder of the texts: <locale>/<step>.j2 and <locale>/strings.yaml",
    )

    @field_validator("locales")
    @classmethod
    def _unique_locales(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each locale may be listed once")
        return value

    def currency(self, code: str) -> CurrencyConfig:
        """The currency with ``code``. Raises KeyError if absent."""
        for cur in self.currencies:
            if cur.code == code:
                return cur
        raise KeyError(code)

    @property
    def currency_codes(self) -> list[str]:
        return [c.code for c in self.currencies]

    def offline(self, provider: str = "static") -> AppConfig:
        """A copy whose every routing rule uses ``provider`` (demos, previews, tests).

        The static provider quotes only the rates written in config.yaml, and the result
        card names it as the source, so an offline quote is never mistaken for a live one.
        """
        rules = [
            rule.model_copy(update={"provider": provider, "price": "close"})
            for rule in self.routing.rules
        ]
        routing = self.routing.model_copy(update={"rules": rules})
        return self.model_copy(update={"routing": routing})
