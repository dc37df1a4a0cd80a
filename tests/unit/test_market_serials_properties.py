"""Hypothesis drives the pure serial book with random issuances, transfers and retirements next to
a reference model (serial -> account): serials never overlap and are never issued twice, every
issued serial is held exactly once, debits take the lowest serials, retired serials never move.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.model import Lot, Posting
from market.bluecarbon.errors import RetiredSerialsImmovable, SerialsNotHeld
from market.bluecarbon.serials import SerialBook, SerialRange

HOLDERS = ["coop.holding", "ent.holding", "bureau.buffer"]
SINK = "coop.retirement"
CAP = "bureau.cap.BC"

ops = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(1, 40), st.integers(0, 40)),
        st.tuples(
            st.just("move"),
            st.integers(0, 3),
            st.sampled_from(HOLDERS),
            st.sampled_from(HOLDERS),
            st.integers(1, 30),
        ),
        st.tuples(st.just("retire"), st.integers(0, 3), st.sampled_from(HOLDERS), st.integers(1, 30)),
        st.tuples(st.just("escape"), st.integers(0, 3), st.integers(1, 5)),
    ),
    max_size=40,
)


def _serials(book: SerialBook) -> dict[int, str]:
    out: dict[int, str] = {}
    for b in book.blocks():
        for serial in range(b.start, b.end + 1):
            assert serial not in out, f"serial {serial} held twice"
            out[serial] = b.account
    return out


@settings(max_examples=150, deadline=None)
@given(ops=ops)
def test_random_histories_keep_every_serial_exactly_once(ops: list[tuple[Any, ...]]) -> None:
    book = SerialBook(sinks={SINK})
    model: dict[int, str] = {}
    batch_of: dict[int, str] = {}
    minted: list[SerialRange] = []
    lots: list[Lot] = []
    for op in ops:
        if op[0] == "issue":
            _, owner_t, buffer_t = op
            lot = Lot(jurisdiction="330900", vintage=2023, batch=f"P-2023-{len(lots) + 1}")
            rng = SerialRange(book.next_serial, book.next_serial + owner_t + buffer_t - 1)
            postings = [
                Posting(CAP, "BC", lot, -(owner_t + buffer_t) * 1000),
                Posting("coop.holding", "BC", lot, owner_t * 1000),
            ]
            if buffer_t:
                postings.append(Posting("bureau.buffer", "BC", lot, buffer_t * 1000))
            book.apply(postings, mint=rng)
            assert not minted or rng.start == minted[-1].end + 1  # contiguous, never reused
            minted.append(rng)
            lots.append(lot)
            for s in range(rng.start, rng.end + 1):
                model[s] = "coop.holding" if s < rng.start + owner_t else "bureau.buffer"
                batch_of[s] = lot.batch or ""
            continue
        if not lots:
            continue
        lot = lots[op[1] % len(lots)]  # one of the batches issued so far
        if op[0] == "escape":
            frozen = {s for s, a in model.items() if a == SINK}
            try:
                book.apply(
                    [Posting(SINK, "BC", lot, -op[1] * 1000), Posting("ent.holding", "BC", lot, op[1] * 1000)]
                )
                raise AssertionError("a retired serial moved")
            except RetiredSerialsImmovable:
                pass
            assert {s for s, a in _serials(book).items() if a == SINK} == frozen
            continue
        src, dst, n = (op[2], op[3], op[4]) if op[0] == "move" else (op[2], SINK, op[3])
        if src == dst:
            continue
        held = sorted(s for s, a in model.items() if a == src and batch_of[s] == lot.batch)
        try:
            moves = book.apply([Posting(src, "BC", lot, -n * 1000), Posting(dst, "BC", lot, n * 1000)])
        except SerialsNotHeld:
            assert len(held) < n
            continue
        moved = [s for m in moves for r in m.ranges for s in range(r.start, r.end + 1)]
        assert moved == held[:n]  # FIFO: the lowest serials of the source
        for s in moved:
            model[s] = dst
    live = _serials(book)
    assert live == model  # issued == holdings + buffer + retired, serial by serial
    assert sum(r.tonnes for r in minted) == len(live)
