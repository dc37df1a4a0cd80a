"""Properties of the household split (ledger.households): for any roster and any sequence of sales,
the members' money plus the cooperative's fee is each sale's proceeds to the fen, the fee is the agreed
rate rounded down, and every share is its exact part rounded by the largest-remainder rule.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.households import (
    Attribution,
    Member,
    Roster,
    attribution_meta,
    distribution_meta,
    largest_remainder,
    parse_attribution,
    parse_roster,
    roster_meta,
)

HASH = "ab" * 32


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    n = draw(st.integers(1, 40))
    areas = draw(st.lists(st.integers(1, 10**7), min_size=n, max_size=n))
    weighed = draw(st.booleans())
    harvests = draw(st.lists(st.integers(1, 10**9), min_size=n, max_size=n)) if weighed else [None] * n
    ids = draw(
        st.lists(st.from_regex(r"[A-Z][0-9]{1,4}", fullmatch=True), min_size=n, max_size=n, unique=True)
    )
    members = tuple(
        Member(m, HASH, a, 1, 0, f"coop:X.member.{m}", h)
        for m, a, h in zip(ids, areas, harvests, strict=True)
    )
    return Roster(
        "coop:X",
        "bureau:330900",
        "P-1",
        date(2024, 1, 1),
        date(2024, 12, 31),
        draw(st.integers(0, 10_000)),
        members,
    )


def _follows_the_rule(total: int, weights: list[tuple[str, int]], shares: list[tuple[str, int]]) -> None:
    """Each share is the floor of its exact part or one more; the ones given one more are exactly the
    largest remainders, ties to the smaller id; the shares sum to the total."""
    whole = sum(w for _, w in weights)
    assert sum(s for _, s in shares) == total
    assert [who for who, _ in shares] == [who for who, _ in weights]
    extra = []
    for (who, w), (_, share) in zip(weights, shares, strict=True):
        exact = Fraction(total * w, whole)
        assert share - exact in (-(exact - int(exact)), 1 - (exact - int(exact)))
        extra.append((share > int(exact), (-(total * w % whole), who)))
    lucky = sorted(key for up, key in extra if up)
    unlucky = sorted(key for up, key in extra if not up)
    assert not lucky or not unlucky or lucky[-1] < unlucky[0]


@settings(max_examples=300, deadline=None)
@given(
    roster=rosters(),
    sink=st.integers(0, 10**10),
    sales=st.lists(st.integers(1, 10**12), min_size=1, max_size=8),
)
def test_any_roster_and_sales_split_exactly_with_the_fee_as_agreed(
    roster: Roster, sink: int, sales: list[int]
) -> None:
    assert parse_roster(roster_meta(roster)) == roster  # the record form reads back as it was
    attribution_json = attribution_meta(roster, sink)
    kg = [(s["member"], s["kg_co2e"]) for s in attribution_json["shares"]]
    _follows_the_rule(sink, roster.weights(), kg)
    assert attribution_json["rule"] == ("harvest" if roster.members[0].harvest_kg is not None else "area")
    attribution = parse_attribution("P-1-2024-1", attribution_json)
    received = {m.member: 0 for m in roster.members}
    fees = 0
    for proceeds in sales:
        split = distribution_meta(roster, attribution, proceeds)
        fen = [(s["member"], s["fen"]) for s in split["shares"]]
        assert split["fee_fen"] == proceeds * roster.fee_bp // 10_000
        assert split["fee_fen"] + sum(f for _, f in fen) == proceeds
        assert [who for who, _ in fen] == [m.member for m in roster.members]  # nobody left out
        weights = [(who, k) for who, k in kg if k > 0] or roster.weights()
        paid = dict(fen)
        _follows_the_rule(split["members_fen"], weights, [(who, paid[who]) for who, _ in weights])
        for who, f in fen:
            received[who] += f
        fees += split["fee_fen"]
    assert sum(received.values()) + fees == sum(sales)


@given(
    total=st.integers(0, 10**12),
    weights=st.lists(st.integers(1, 10**6), min_size=1, max_size=30),
)
def test_largest_remainder_never_gives_a_larger_weight_less(total: int, weights: list[int]) -> None:
    named = [(f"m{i:03d}", w) for i, w in enumerate(weights)]
    shares = dict(largest_remainder(total, named))
    for a, wa in named:
        for b, wb in named:
            if wa > wb:
                assert shares[a] >= shares[b]


def test_an_attribution_reads_back_from_its_record_form() -> None:
    members = tuple(Member(f"M{i}", HASH, 100 * i, 0, 0, f"coop:X.member.M{i}") for i in (1, 2, 3))
    roster = Roster("coop:X", "bureau:330900", "P-1", date(2024, 1, 1), date(2024, 12, 31), 250, members)
    meta = attribution_meta(roster, 601)
    assert [s["kg_co2e"] for s in meta["shares"]] == [
        100,
        200,
        301,
    ]  # 100.17, 200.33, 300.5: remainders .5 > .33 > .17
    assert parse_attribution("B", meta) == Attribution(
        "B", roster.id, (("M1", 100), ("M2", 200), ("M3", 301))
    )
