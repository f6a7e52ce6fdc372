"""All 14 directions of config.yaml, priced end to end through the service.

Static rates (config.yaml ``providers.static.rates``): USDT/RUB 85.30, USD/RUB 81.50,
EUR/RUB 94.20, THB/RUB 2.6850, AED/RUB 22.19, ZAR/RUB 4.5120, IDR/RUB 0.005654.
Margin 2 %. Client gives 100 000 RUB, or 1 000 USDT.

Both rates of a direction are shown with the same decimals: ≥ 2, ≥ 4 significant digits,
and enough that one unit of the last place is ≤ 0.015 % of the market rate
(``routing.max_rounding_percent``), so rounding adds less than 0.015 points to the 2 %.

Client gives RUB (buys the asset X of X/RUB): final = base × 1.02 rounded UP;
result = 100000 ÷ final rounded DOWN.
Client gives USDT (sells the asset of USDT/X, X/RUB crossed through RUB):
base = 85.30 ÷ X/RUB; final = base × 0.98 rounded DOWN; result = 1000 × final.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.config.models import AppConfig
from engine.rates.service import RateService

CASES = [
    # give, get, display, base, final, result
    # 0.01 is 0.0117 % of 85.30: 2 decimals. 85.30 × 1.02 = 87.006 → 87.01;
    # 100000 ÷ 87.01 = 1149.2931… → 1149.29
    ("RUB", "USDT", "USDT/RUB", "85.30", "87.01", "1149.29"),
    # 81.50 × 1.02 = 83.13; 100000 ÷ 83.13 = 1202.9351… → 1202.93
    ("RUB", "USD", "USD/RUB", "81.50", "83.13", "1202.93"),
    # 94.20 × 1.02 = 96.084 → 96.09; 100000 ÷ 96.09 = 1040.6910… → 1040.69
    ("RUB", "EUR", "EUR/RUB", "94.20", "96.09", "1040.69"),
    # 0.001 would be 0.037 % of 2.6850: 4 decimals. 2.6850 × 1.02 = 2.7387;
    # 100000 ÷ 2.7387 = 36513.6743… → 36513.67
    ("RUB", "THB", "THB/RUB", "2.6850", "2.7387", "36513.67"),
    # 0.01 would be 0.045 % of 22.19: 3 decimals. 22.19 × 1.02 = 22.6338 → 22.634;
    # 100000 ÷ 22.634 = 4418.1320… → 4418.13
    ("RUB", "AED", "AED/RUB", "22.190", "22.634", "4418.13"),
    # 4.5120 × 1.02 = 4.60224 → 4.6023; 100000 ÷ 4.6023 = 21728.2662… → 21728.26
    ("RUB", "ZAR", "ZAR/RUB", "4.5120", "4.6023", "21728.26"),
    # 0.0000001 is 0.0018 % of 0.005654: 7 decimals. 0.005654 × 1.02 = 0.00576708
    # → 0.0057671; 100000 ÷ 0.0057671 = 17339737.4… → 17339737
    ("RUB", "IDR", "IDR/RUB", "0.0056540", "0.0057671", "17339737"),
    # 85.30 × 0.98 = 83.594 → 83.59; 1000 × 83.59 = 83590.00
    ("USDT", "RUB", "USDT/RUB", "85.30", "83.59", "83590.00"),
    # 85.30 ÷ 81.50 = 1.046625… → 1.0466; × 0.98 = 1.025693… → 1.0256; → 1025.60
    ("USDT", "USD", "USDT/USD", "1.0466", "1.0256", "1025.60"),
    # 85.30 ÷ 94.20 = 0.905520… → 0.9055; × 0.98 = 0.887409… → 0.8874; → 887.40
    ("USDT", "EUR", "USDT/EUR", "0.9055", "0.8874", "887.40"),
    # 85.30 ÷ 2.6850 = 31.769087… → 31.769; × 0.98 = 31.133705… → 31.133; → 31133.00
    ("USDT", "THB", "USDT/THB", "31.769", "31.133", "31133.00"),
    # 85.30 ÷ 22.19 = 3.844073… → 3.8441; × 0.98 = 3.767192… → 3.7671; → 3767.10
    ("USDT", "AED", "USDT/AED", "3.8441", "3.7671", "3767.10"),
    # 85.30 ÷ 4.5120 = 18.905141… → 18.905; × 0.98 = 18.527039… → 18.527; → 18527.00
    ("USDT", "ZAR", "USDT/ZAR", "18.905", "18.527", "18527.00"),
    # 85.30 ÷ 0.005654 = 15086.664308… → 15086.66; × 0.98 = 14784.931022… → 14784.93;
    # 1000 × 14784.93 = 14784930 (IDR has 0 decimals)
    ("USDT", "IDR", "USDT/IDR", "15086.66", "14784.93", "14784930"),
]


def test_every_configured_direction_is_covered(config: AppConfig) -> None:
    configured = {(g, x) for g, xs in config.directions.items() for x in xs}
    assert configured == {(c[0], c[1]) for c in CASES}


@pytest.mark.parametrize(
    ("give", "get", "display", "base", "final", "result"),
    CASES,
    ids=[f"{c[0]}->{c[1]}" for c in CASES],
)
async def test_direction(
    service: RateService,
    give: str,
    get: str,
    display: str,
    base: str,
    final: str,
    result: str,
) -> None:
    amount = Decimal(100_000) if give == "RUB" else Decimal(1000)
    q, rate = await service.quote(give, get, Decimal(2), amount)
    assert str(q.display) == display
    # str() comparisons also pin the number of decimals shown
    assert (str(q.base_rate), str(q.final_rate), str(q.result)) == (base, final, result)
    assert q.client_buys_asset is (give == "RUB")
    assert rate.sources == (
        ("rapira",)
        if "RUB" in (give, get) and "USDT" in (give, get)
        else ("apilayer",)
        if give == "RUB"
        else ("rapira", "apilayer")
    )
