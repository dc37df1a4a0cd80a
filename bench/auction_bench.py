"""Clearing time of ``market.auction.clear`` for 1,000, 10,000 and 100,000 bids per design,
against the target of 100,000 bids cleared in under a second (pure CPython, one core)."""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from market.auction import AuctionDesign, AuctionTerms, Bid, ClearingResult, FixedDeposit, Need, clear

TARGET_BIDS = 100_000
TARGET_S = 1.0
SIZES = (1_000, 10_000, 100_000)
DESIGNS = (
    AuctionDesign.UNIFORM_PRICE,
    AuctionDesign.PAY_AS_BID,
    AuctionDesign.ONLINE_BIDDING,
    AuctionDesign.ASCENDING,
)
BIDS_PER_BIDDER = 5
NEED_KG = 20_000
RESERVE = 2_000_000  # fen/t: COD, 4,000 CNY per tonne-year x 5 years
INCREMENT = 1_000  # fen/t
OPENS = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
WINDOW = timedelta(hours=2)


def workload(design: AuctionDesign, n: int, rng: random.Random) -> tuple[AuctionTerms, list[Bid], list[Need]]:
    """``n`` bids from ``n / 5`` eligible bidders in random input order; supply half the demand.

    Sealed prices sit on a 1,000-fen grid over 2,000 steps, so ties at the margin are common.
    Ascending bids each raise the standing price by one increment, as an ascending auction must.
    """
    bidders = [f"913302810000{i:06d}" for i in range(max(1, n // BIDS_PER_BIDDER))]
    needs = [Need(b, "COD", "330281", NEED_KG) for b in bidders]
    step = WINDOW / (n + 1)
    bids = []
    for seq in range(n):
        price = RESERVE + (
            seq * INCREMENT if design is AuctionDesign.ASCENDING else rng.randrange(2_000) * 1_000
        )
        bids.append(
            Bid(bidders[seq // BIDS_PER_BIDDER], price, rng.randint(1, 10_000), seq, OPENS + step * seq)
        )
    rng.shuffle(bids)
    ascending = design is AuctionDesign.ASCENDING
    terms = AuctionTerms(
        auction_id=f"bench-{design.value}-{n}",
        instrument="COD",
        jurisdiction="330281",
        quantity_kg=sum(b.quantity_kg for b in bids) // 2,
        reserve_price_fen_per_t=RESERVE,
        design=design,
        opens_at=OPENS,
        closes_at=OPENS + WINDOW,
        deposit_rule=FixedDeposit(500_000),
        max_bids_per_bidder=None if ascending else 10,
        increment_fen_per_t=INCREMENT if ascending else None,
    )
    return terms, bids, needs


def time_clear(
    terms: AuctionTerms, bids: list[Bid], needs: list[Need], repeats: int
) -> tuple[float, ClearingResult]:
    """Median wall time of ``repeats`` clearings, garbage collector on (as in the service)."""
    times = []
    result = clear(terms, bids, needs)
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        again = clear(terms, bids, needs)
        times.append(time.perf_counter() - start)
        assert again == result, "clearing is not deterministic"
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5, help="timed clearings per cell; the median counts")
    p.add_argument("--seed", type=int, default=20250303)
    args = p.parse_args(argv)
    print(
        f"auction clearing bench: Python {sys.version.split()[0]}, {platform.machine()} {platform.system()}"
    )
    print(f"median of {args.repeats} runs; {BIDS_PER_BIDDER} bids per bidder; supply = half the demand")
    print()
    print(f"{'design':<16}{'bids':>10}{'clear (ms)':>13}{'bids/s':>13}{'winners':>10}{'rejected':>11}")
    failures = []
    for design in DESIGNS:
        for n in SIZES:
            terms, bids, needs = workload(design, n, random.Random(args.seed + n))
            seconds, result = time_clear(terms, bids, needs, args.repeats)
            print(
                f"{design.value:<16}{n:>10,}{seconds * 1000:>13.1f}{n / seconds:>13,.0f}"
                f"{len(result.winners()):>10,}{len(result.rejected):>11,}"
            )
            if n == TARGET_BIDS and seconds >= TARGET_S:
                failures.append(f"{design.value} {seconds:.3f} s")
    print()
    verdict = "FAIL (" + ", ".join(failures) + ")" if failures else "PASS"
    print(f"target: {TARGET_BIDS:,} bids cleared in under {TARGET_S:.0f} s for every design: {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
