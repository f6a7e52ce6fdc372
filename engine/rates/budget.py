"""Monthly request budgets of metered providers: pacing, a shared ledger, the vendor's word.

A provider config may carry ``monthly_budget`` (APILayer's free plan allows ~100 requests a
month); ``None`` or no such field means unlimited. For a metered provider:

* **Every HTTP request counts**, retries included (read from the provider's
  ``requests_sent``, see :class:`~providers.base.RequestCountingProtocol`), in a ledger
  kept per calendar month (UTC) that survives restarts: a JSON file in ``DATA_DIR`` for
  one process, Redis when replicas share it (the count is then shared).
* **Pacing targets** ``budget.use_percent`` (90 %) of the budget: the refresh interval is
  30 days ÷ (target − ``budget.burst``), about 8.3 h for 100, and a call is refused once
  the month's requests reach the pro-rata share of the target plus ``burst``
  (``min(target, ⌊target × elapsed share of the month⌋ + burst)``). A failing vendor can
  therefore never eat the month early: retries after a failure come out of the burst, and
  then wait for the pace.
* **The vendor wins when it is lower**: when the last response carried
  ``X-RateLimit-Remaining-Month``, the month's use is taken as
  ``max(our count, budget − remaining)``, and no call is made once ``remaining`` is at or
  below ``budget.stop_below_remaining``. A refused call is a :class:`BudgetExhaustedError`,
  so the next provider of the routing rule serves.

Why not a library: rate limiters (``aiolimiter``, ``limits``) meter short windows in
requests per second or per fixed window from the first hit; none paces a calendar-month
quota pro rata, takes a vendor-reported remainder into account, or projects the date the
plan runs out. What is kept is a counter per month, which the file and Redis ledgers below
store in a few lines each.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Protocol

from engine.config.models import BudgetConfig
from engine.rates.cache import write_atomically
from providers.base import QuotaInfo
from providers.errors import ProviderRateLimitedError

logger = logging.getLogger("engine.rates")

MONTH_SECONDS = 30 * 24 * 3600


class BudgetExhaustedError(ProviderRateLimitedError):
    """Our own budget refuses the call: no request was sent."""


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """How one metered provider may spend its ``monthly_budget``."""

    monthly_budget: int
    use_percent: Decimal = Decimal(90)
    burst: int = 3
    stop_below_remaining: int = 3

    @property
    def target(self) -> int:
        """Requests a month we allow ourselves."""
        share = Decimal(self.monthly_budget) * self.use_percent / 100
        return max(int(share.to_integral_value(rounding=ROUND_FLOOR)), 1)

    @property
    def interval(self) -> float:
        """Seconds between refreshes at the even pace."""
        return MONTH_SECONDS / max(self.target - self.burst, 1)

    def allowance(self, elapsed_share: float) -> int:
        """Requests that may have been spent once ``elapsed_share`` of the month is gone."""
        paced = int(self.target * min(max(elapsed_share, 0.0), 1.0)) + self.burst
        return min(self.target, paced)


def budget_policy(
    provider_config: object, budget: BudgetConfig | None = None
) -> BudgetPolicy | None:
    """The policy of a provider config with ``monthly_budget``; None for an unmetered one."""
    monthly = getattr(provider_config, "monthly_budget", None)
    if monthly is None:
        return None
    if isinstance(monthly, bool) or not isinstance(monthly, int) or monthly < 1:
        raise ValueError(f"monthly_budget must be a positive integer, got {monthly!r}")
    settings = budget or BudgetConfig()
    return BudgetPolicy(
        monthly, settings.use_percent, settings.burst, settings.stop_below_remaining
    )


def budget_interval(provider_config: object, budget: BudgetConfig | None = None) -> float:
    """Minimum seconds between refreshes that keep the provider within its pace (0: none)."""
    policy = budget_policy(provider_config, budget)
    return 0.0 if policy is None else policy.interval


def stretch(interval: float, provider_config: object, budget: BudgetConfig | None = None) -> float:
    """``interval`` lengthened, if needed, to fit the provider's monthly budget."""
    return max(interval, budget_interval(provider_config, budget))


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month in UTC."""

    key: str  # "2026-12"
    start: float
    end: float

    @classmethod
    def of(cls, wall: float) -> Month:
        when = datetime.fromtimestamp(wall, UTC)
        days = calendar.monthrange(when.year, when.month)[1]
        start = datetime(when.year, when.month, 1, tzinfo=UTC).timestamp()
        return cls(f"{when.year:04d}-{when.month:02d}", start, start + days * 86_400)

    def share(self, wall: float) -> float:
        return (wall - self.start) / (self.end - self.start)


class LedgerProtocol(Protocol):
    """Requests spent per provider and month; shared by whoever shares the ledger."""

    async def used(self, provider: str, month: str) -> int: ...

    async def add(self, provider: str, month: str, count: int) -> int:
        """Add ``count`` and return the new total."""
        ...


class MemoryLedger:
    """One process, forgotten at exit (tests, offline mode)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    async def used(self, provider: str, month: str) -> int:
        return self._counts.get((provider, month), 0)

    async def add(self, provider: str, month: str, count: int) -> int:
        total = self._counts[(provider, month)] = self._counts.get((provider, month), 0) + count
        return total


class FileLedger(MemoryLedger):
    """A JSON file (``{"apilayer": {"2026-12": 12}}``), rewritten atomically on each add.

    An unreadable file is reported once and started afresh; a write that fails (read-only
    disk) is reported and the count goes on in memory.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._lock = asyncio.Lock()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for provider, months in data.items():
                for month, count in months.items():
                    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                        self._counts[(str(provider), str(month))] = count
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("rates: budget ledger %s unreadable, starting afresh: %s", path, exc)

    async def add(self, provider: str, month: str, count: int) -> int:
        async with self._lock:
            total = await super().add(provider, month, count)
            self._save()
        return total

    def _save(self) -> None:
        data: dict[str, dict[str, int]] = {}
        for (provider, month), count in self._counts.items():
            data.setdefault(provider, {})[month] = count
        write_atomically(self.path, json.dumps(data, indent=1, sort_keys=True))


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One metered provider's month, for ``/health/ready`` and ``/metrics``.

    Attributes:
        used: requests this month (ours, or the vendor's figure when that is higher).
        left: requests the pacing may still spend this month (0 when stopped).
        projected_exhaustion: when ``monthly_budget`` would be used up at this month's
            pace so far; None when that is not within the month.
    """

    provider: str
    month: str
    budget: int
    target: int
    used: int
    vendor_remaining: int | None
    left: int
    projected_exhaustion: datetime | None


VendorQuota = Callable[[], QuotaInfo]


class Budgets:
    """The gate in front of every metered provider's calls.

    Args:
        policies: provider name → its policy (metered providers only).
        ledger: where the month's counts live.
        wall: UTC epoch seconds (a clock shared between replicas, when they share a ledger).
        vendor: provider name → the quota its last response reported (a figure from an
            earlier month is ignored: the plan has been renewed since).
    """

    def __init__(
        self,
        policies: Mapping[str, BudgetPolicy],
        ledger: LedgerProtocol,
        wall: Callable[[], float],
        vendor: Mapping[str, VendorQuota] | None = None,
    ) -> None:
        self.policies = dict(policies)
        self._ledger = ledger
        self._wall = wall
        self._vendor = dict(vendor or {})
        self.last_status: list[BudgetStatus] = []

    def metered(self, provider: str) -> bool:
        return provider in self.policies

    async def refusal(self, provider: str) -> str | None:
        """Why a call to ``provider`` may not be made now; None when it may."""
        policy = self.policies.get(provider)
        if policy is None:
            return None
        now = self._wall()
        month = Month.of(now)
        remaining = self._remaining(provider)
        if remaining is not None and remaining <= policy.stop_below_remaining:
            return f"the vendor reports {remaining} request(s) left this month"
        used = await self._used(provider, policy, month)
        allowed = policy.allowance(month.share(now))
        if used >= allowed:
            limit = "monthly target" if allowed >= policy.target else "pace"
            return (
                f"{used} of {policy.monthly_budget} requests used this month "
                f"({limit}: {allowed} by now)"
            )
        return None

    async def check(self, provider: str) -> None:
        """Raise :class:`BudgetExhaustedError` when a call may not be made now."""
        reason = await self.refusal(provider)
        if reason is not None:
            raise BudgetExhaustedError(provider, f"budget: {reason}")

    async def charge(self, provider: str, requests: int) -> None:
        """Count ``requests`` HTTP requests just sent to ``provider``."""
        if provider not in self.policies or requests <= 0:
            return
        month = Month.of(self._wall())
        await self._ledger.add(provider, month.key, requests)
        await self.status()

    async def status(self) -> list[BudgetStatus]:
        """Every metered provider's month so far (also kept as :attr:`last_status`)."""
        now = self._wall()
        month = Month.of(now)
        result = []
        for name, policy in self.policies.items():
            used = await self._used(name, policy, month)
            remaining = self._remaining(name)
            left = max(policy.target - used, 0)
            if remaining is not None:
                left = min(left, max(remaining - policy.stop_below_remaining, 0))
            result.append(
                BudgetStatus(
                    provider=name,
                    month=month.key,
                    budget=policy.monthly_budget,
                    target=policy.target,
                    used=used,
                    vendor_remaining=remaining,
                    left=left,
                    projected_exhaustion=_projection(policy.monthly_budget, used, month, now),
                )
            )
        self.last_status = result
        return result

    def _remaining(self, provider: str) -> int | None:
        source = self._vendor.get(provider)
        quota = None if source is None else source()
        if quota is None or quota.remaining_month is None or quota.updated_at is None:
            return None
        if Month.of(quota.updated_at.timestamp()).key != Month.of(self._wall()).key:
            return None
        return quota.remaining_month

    async def _used(self, provider: str, policy: BudgetPolicy, month: Month) -> int:
        ours = await self._ledger.used(provider, month.key)
        remaining = self._remaining(provider)
        if remaining is not None:
            ours = max(ours, policy.monthly_budget - remaining)
        return ours


def _projection(budget: int, used: int, month: Month, now: float) -> datetime | None:
    elapsed = now - month.start
    if used <= 0 or elapsed <= 0:
        return None
    at = month.start + elapsed * budget / used
    if at >= month.end:
        return None
    return datetime.fromtimestamp(max(at, now), UTC)
