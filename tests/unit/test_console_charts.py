"""The charts: cap use never puts tCO2e on a t/a axis and names cities in the reader's language; prices
are one point per instrument and Beijing day (volume-weighted mean inside the day's low-high band)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from api.console.charts import cap_use_panels, daily_series
from api.console.svg import _price_range, day_bands
from ledger.model import Lot
from market.issuance.service import CapPosition

COD_YUYAO = CapPosition(
    "330281", "COD", Lot(jurisdiction="330281", valid_until=date(2030, 12, 31)), 400_000, 276_500, 2_000
)
VOCS_ZHOUSHAN = CapPosition(
    "330900", "VOCS", Lot(jurisdiction="330900", valid_until=date(2030, 12, 31)), 120_000, 70_000, 0
)
BC_SHENGSI = CapPosition(
    "330922", "BC", Lot(jurisdiction="330922", vintage=2025, batch="SS-1"), 17_640_000, 0, 0
)


def test_tonnes_co2e_get_a_panel_of_their_own_and_cities_are_named() -> None:
    panels = cap_use_panels("zh", [COD_YUYAO, VOCS_ZHOUSHAN, BC_SHENGSI])
    assert len(panels) == 2
    rights, carbon = sorted(panels, key=lambda svg: "吨/年" not in svg)
    assert "总量使用（吨/年）" in rights
    assert "余姚市" in rights
    assert "舟山市" in rights
    assert "嵊泗县" not in rights
    assert "330281" not in rights  # a city's name, never its division code
    assert "总量使用（吨二氧化碳当量）" in carbon
    assert "BC 2025" in carbon
    assert "COD" not in carbon
    (english,) = cap_use_panels("en", [COD_YUYAO])
    assert "Cap use (t/a)" in english
    assert "Yuyao" not in english  # one city only: its name is not repeated under every bar
    assert "COD 2030" in english


def test_same_day_settlements_are_one_point_at_the_volume_weighted_mean() -> None:
    day = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 11:00 in Beijing
    fills = [
        ("COD", day, 2_350_000, 1_200),
        ("COD", day + timedelta(minutes=5), 2_280_000, 1_000),
        ("COD", day + timedelta(minutes=5), 2_160_000, 800),
        ("COD", day + timedelta(days=1), 2_500_000, 500),
        ("NH3-N", day, 3_000_000, 100),
    ]
    cod, nh3n = daily_series(fills)
    assert cod.name == "COD"
    assert cod.days == (
        (
            date(2026, 11, 1),
            (2_350_000 * 1_200 + 2_280_000 * 1_000 + 2_160_000 * 800) // 3_000,
            2_160_000,
            2_350_000,
        ),
        (date(2026, 11, 2), 2_500_000, 2_500_000, 2_500_000),
    )
    assert nh3n.days == ((date(2026, 11, 1), 3_000_000, 3_000_000, 3_000_000),)
    svg = day_bands("prices", [cod, nh3n], unit="CNY/t", scale=100, legend=("mean", "range"))
    means = re.findall(r'<circle cx="([0-9.]+)"', svg)
    assert len(means) == 3  # one per instrument and day, not one per settlement
    assert len(set(re.findall(r'<circle cx="([0-9.]+)" cy="[0-9.]+" r="4" fill="#2f6f6a"', svg))) == 2
    mean_fen = cod.days[0][1]
    assert f">{mean_fen // 100:,}.{mean_fen % 100:02d}<" in svg  # the mean is labelled, in CNY per tonne
    assert svg.count('class="band"') == 3


def test_a_day_in_beijing_is_not_a_day_in_utc() -> None:
    late = datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 November in Beijing
    (series,) = daily_series([("COD", late, 2_000_000, 1_000)])
    assert series.days[0][0] == date(2026, 11, 2)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=5),
            st.integers(min_value=1, max_value=10_000_000),
            st.integers(min_value=1, max_value=1_000_000),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_each_days_mean_lies_in_its_band_and_counts_every_fill(raw: list[tuple[int, int, int]]) -> None:
    start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    fills = [("COD", start + timedelta(days=d), price, kg) for d, price, kg in raw]
    (series,) = daily_series(fills)
    assert [d for d, *_ in series.days] == sorted({(start + timedelta(days=d)).date() for d, _, _ in raw})
    for day, mean, low, high in series.days:
        of_day = [(p, q) for d, p, q in raw if (start + timedelta(days=d)).date() == day]
        assert low == min(p for p, _ in of_day) <= mean <= max(p for p, _ in of_day) == high
        assert mean == sum(p * q for p, q in of_day) // sum(q for _, q in of_day)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_a_price_axis_holds_every_price_and_starts_at_zero_for_a_wide_spread(low: int, spread: int) -> None:
    high = low + spread
    y_min, y_max = _price_range(low, high)
    assert 0 <= y_min <= low <= high <= y_max
    assert y_min < y_max
    if low < high // 2:
        assert y_min == 0


def test_a_narrow_band_of_prices_is_drawn_on_an_axis_that_shows_it() -> None:
    day = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    series = daily_series([("COD", day, 2_350_000, 1_200), ("COD", day, 2_160_000, 800)])
    svg = day_bands("prices", series, unit="CNY/t", scale=100, legend=("mean", "range"))
    ticks = re.findall(r'class="tick" text-anchor="end">([0-9,.]+)<', svg)
    assert ticks[0] == "20,000"  # not 0: the band from 21,600 to 23,500 fills the plot
    assert ticks[-1] == "25,000"
