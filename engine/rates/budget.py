"""Monthly request budgets: how far apart calls to a metered provider must be.

A provider config may carry ``monthly_budget`` (APILayer's free plan allows ~100 requests a
month); ``None`` or no such field means unlimited. Spreading the budget evenly over 30 days
gives the minimum interval between calls: 100 → 25 920 s (7.2 h).
"""

from __future__ import annotations

MONTH_SECONDS = 30 * 24 * 3600


def budget_interval(provider_config: object) -> float:
    """Minimum seconds between calls so that calls per 30 days ≤ the budget (0 = no limit)."""
    budget = getattr(provider_config, "monthly_budget", None)
    if budget is None:
        return 0.0
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"monthly_budget must be a positive integer, got {budget!r}")
    return MONTH_SECONDS / budget


def stretch(interval: float, provider_config: object) -> float:
    """``interval`` lengthened, if needed, to fit the provider's monthly budget."""
    return max(interval, budget_interval(provider_config))
