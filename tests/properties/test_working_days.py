"""The trusted-list delay in working days (ledger.controls.add_working_days): exactly ``n`` weekdays
of UTC+8 pass, never fewer, and it never lands on a weekend; hypothesis over instants and delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ledger.controls import add_working_days

CST = timezone(timedelta(hours=8))
# hypothesis takes naive bounds and attaches the zone itself
_LOW, _HIGH = datetime(2020, 1, 1), datetime(2040, 1, 1)  # noqa: DTZ001
instants = st.datetimes(min_value=_LOW, max_value=_HIGH, timezones=st.just(UTC))


@given(instants, st.integers(min_value=0, max_value=30))
def test_the_delay_counts_exactly_n_weekdays_of_china_time(at: datetime, days: int) -> None:
    end = add_working_days(at, days)
    assert end - at == timedelta(days=(end - at).days)  # whole days: the time of day is kept
    passed = [at + timedelta(days=d) for d in range(1, (end - at).days + 1)]
    assert sum(1 for d in passed if d.astimezone(CST).weekday() < 5) == days
    if days:
        assert end.astimezone(CST).weekday() < 5
        assert timedelta(days=days) <= end - at <= timedelta(days=days + 2 + 2 * (days // 5))


@given(instants, st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=20))
def test_delays_add_up(at: datetime, first: int, second: int) -> None:
    assert add_working_days(add_working_days(at, first), second) == add_working_days(at, first + second)
