"""The serial book alone: minting, FIFO debits that split blocks, merging, refusals, replay."""

from __future__ import annotations

import pytest

from ledger.errors import InvalidInput
from ledger.model import AccountKind, Body, Lot, OpenAccount, Posting, TxBody
from ledger.rules import AccountInfo
from ledger.state import LedgerState
from market.bluecarbon.errors import (
    RetiredSerialsImmovable,
    SerialRangeConflict,
    SerialsNotHeld,
    WholeTonnesOnly,
)
from market.bluecarbon.serial_audit import SerialAudit
from market.bluecarbon.serials import (
    SerialBlock,
    SerialBook,
    SerialRange,
    replay_serials,
    split_issuance,
    tonnes_of,
)

B1 = Lot(jurisdiction="330900", vintage=2023, batch="P-2023-1")
B2 = Lot(jurisdiction="330900", vintage=2024, batch="P-2024-1")
CAP = "bureau:330900.cap.BC"


def mint(book: SerialBook, lot: Lot, *credits: tuple[str, int]) -> SerialRange:
    tonnes = sum(t for _, t in credits)
    rng = SerialRange(book.next_serial, book.next_serial + tonnes - 1)
    postings = [
        Posting(CAP, "BC", lot, -tonnes * 1000),
        *(Posting(a, "BC", lot, t * 1000) for a, t in credits),
    ]
    book.apply(postings, mint=rng)
    return rng


def move(book: SerialBook, lot: Lot, src: str, dst: str, tonnes: int) -> list[SerialRange]:
    moves = book.apply([Posting(src, "BC", lot, -tonnes * 1000), Posting(dst, "BC", lot, tonnes * 1000)])
    return [r for m in moves for r in m.ranges]


def test_an_issuance_hands_out_its_range_to_the_credits_in_posting_order() -> None:
    book = SerialBook()
    assert mint(book, B1, ("owner", 90), ("buffer", 10)) == SerialRange(1, 100)
    assert book.held("owner", "P-2023-1") == (SerialRange(1, 90),)
    assert book.held("buffer", "P-2023-1") == (SerialRange(91, 100),)
    assert mint(book, B2, ("owner", 5)) == SerialRange(101, 105)
    assert book.next_serial == 106


def test_a_debit_takes_the_lowest_serials_and_splits_a_block() -> None:
    book = SerialBook()
    mint(book, B1, ("a", 100))
    assert move(book, B1, "a", "b", 10) == [SerialRange(1, 10)]
    assert move(book, B1, "a", "b", 5) == [SerialRange(11, 15)]
    assert book.held("b", "P-2023-1") == (SerialRange(1, 15),)  # adjacent blocks merge
    assert move(book, B1, "b", "a", 3) == [SerialRange(1, 3)]
    assert book.held("a", "P-2023-1") == (SerialRange(1, 3), SerialRange(16, 100))
    assert move(book, B1, "a", "c", 5) == [SerialRange(1, 3), SerialRange(16, 17)]  # spans two blocks
    assert book.blocks(account="c") == [
        SerialBlock("P-2023-1", 1, 3, "c"),
        SerialBlock("P-2023-1", 16, 17, "c"),
    ]


def test_refusals_leave_the_book_unchanged() -> None:
    book = SerialBook(sinks={"a.retirement"})
    mint(book, B1, ("a", 10))
    move(book, B1, "a", "a.retirement", 2)
    state = book.blocks()
    with pytest.raises(SerialsNotHeld):
        move(book, B1, "a", "b", 9)
    with pytest.raises(RetiredSerialsImmovable):
        move(book, B1, "a.retirement", "b", 1)
    with pytest.raises(WholeTonnesOnly):
        book.apply([Posting("a", "BC", B1, -1500), Posting("b", "BC", B1, 1500)])
    with pytest.raises(SerialRangeConflict):  # a range that does not follow the last one
        book.apply([Posting(CAP, "BC", B2, -1000), Posting("a", "BC", B2, 1000)], mint=SerialRange(5, 5))
    with pytest.raises(SerialRangeConflict):  # the same batch twice
        book.apply([Posting(CAP, "BC", B1, -1000), Posting("a", "BC", B1, 1000)], mint=SerialRange(11, 11))
    with pytest.raises(SerialRangeConflict):  # range and credits disagree
        book.apply([Posting(CAP, "BC", B2, -2000), Posting("a", "BC", B2, 2000)], mint=SerialRange(11, 11))
    assert book.blocks() == state
    assert book.next_serial == 11


def test_blocks_that_overlap_are_refused_when_the_book_is_loaded() -> None:
    with pytest.raises(SerialRangeConflict):
        SerialBook([SerialBlock("P", 1, 10, "a"), SerialBlock("P", 10, 12, "b")])
    assert SerialBook([SerialBlock("P", 1, 10, "a"), SerialBlock("P", 11, 12, "a")]).held("a", "P") == (
        SerialRange(1, 12),
    )


def test_split_rounds_the_buffer_down_and_issues_whole_tonnes_only() -> None:
    split = split_issuance(17_640_388, 1_000)
    assert (split.issued_t, split.buffer_t, split.owner_t) == (17_640, 1_764, 15_876)
    assert split_issuance(19_999, 1_000).buffer_t == 1  # 19 t x 10% = 1.9 -> 1
    assert split_issuance(999, 1_000).issued_t == 0
    assert split_issuance(5_000, 10_000).owner_t == 0
    with pytest.raises(InvalidInput):
        split_issuance(5_000, 10_001)
    with pytest.raises(TypeError):
        split_issuance(5_000, 0.1)  # type: ignore[arg-type]
    assert tonnes_of(-3000, field="x") == 3
    with pytest.raises(InvalidInput):
        SerialRange(5, 4)


def test_replay_rebuilds_the_book_and_checks_what_each_record_states() -> None:
    bodies: list[Body] = [
        OpenAccount("a.retirement", "a", AccountKind.RETIREMENT, "n0"),
        TxBody(
            "bc.issue",
            "n1",
            (Posting(CAP, "BC", B1, -10_000), Posting("a", "BC", B1, 10_000)),
            meta={"serial_start": 1, "serial_end": 10},
        ),
        TxBody(
            "bc.retire",
            "n2",
            (Posting("a", "BC", B1, -3000), Posting("a.retirement", "BC", B1, 3000)),
            meta={"serials": [[1, 3]]},
        ),
    ]
    book = replay_serials(bodies)
    assert book.held("a.retirement", "P-2023-1") == (SerialRange(1, 3),)
    assert "a.retirement" in book.sinks
    lying = TxBody(
        "bc.transfer",
        "n3",
        (Posting("a", "BC", B1, -1000), Posting("b", "BC", B1, 1000)),
        meta={"serials": [[9, 9]]},
    )
    with pytest.raises(SerialRangeConflict):
        replay_serials([*bodies, lying])
    escape = TxBody(
        "bc.transfer", "n4", (Posting("a.retirement", "BC", B1, -1000), Posting("b", "BC", B1, 1000))
    )
    with pytest.raises(RetiredSerialsImmovable):
        replay_serials([*bodies, escape])


def test_the_replay_check_keeps_the_same_book_with_sinks_from_the_replays_accounts() -> None:
    retirement = AccountInfo("a.retirement", "a", AccountKind.RETIREMENT)
    state = LedgerState(accounts={retirement.id: retirement})  # what replay opened before these records
    issue = TxBody(
        "bc.issue",
        "n1",
        (Posting(CAP, "BC", B1, -10_000), Posting("a", "BC", B1, 10_000)),
        meta={"serial_start": 1, "serial_end": 10},
    )
    retire = TxBody(
        "bc.retire", "n2", (Posting("a", "BC", B1, -3000), Posting("a.retirement", "BC", B1, 3000))
    )
    cod = TxBody(
        "transfer",
        "n3",
        (
            Posting("a", "COD", Lot(jurisdiction="330900"), -5),
            Posting("b", "COD", Lot(jurisdiction="330900"), 5),
        ),
    )
    audit = SerialAudit()
    for seq, body in enumerate((issue, retire, cod), start=7):
        assert audit(seq, body.to_json(), state) is None
    assert (
        audit.book.blocks()
        == replay_serials(
            [OpenAccount("a.retirement", "a", AccountKind.RETIREMENT, "n0"), issue, retire]
        ).blocks()
    )
    assert audit.records == 2  # the COD transfer carries no serials
    escape = TxBody(
        "bc.transfer", "n4", (Posting("a.retirement", "BC", B1, -1000), Posting("b", "BC", B1, 1000))
    )
    failure = audit(11, escape.to_json(), state)
    assert failure is not None
    assert (failure.seq, failure.rule, failure.evidence["field"]) == (
        11,
        "retired_serials_immovable",
        "postings[0].account",
    )
