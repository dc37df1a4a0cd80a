"""What a served registry leaves to the cyclic garbage collector: nothing of a sequenced write, and
a heap tuned for serving (``api.server.settle_heap``); a full collection stops every thread."""

from __future__ import annotations

import gc
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from api.server import YOUNG_OBJECTS, settle_heap
from ledger.sequencer import Sequencer, _Group, _Job
from ledger.service import Instruction, Receipt
from tests.support import World, transfer


@contextmanager
def garbage_left(*kinds: type) -> Iterator[list[object]]:
    """Objects of ``kinds`` that only the cyclic collector would have freed, made in the block."""
    with warnings.catch_warnings():  # what other tests left unclosed is theirs to answer for
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    was = gc.isenabled()
    gc.disable()
    found: list[object] = []
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        found.extend(o for o in gc.garbage if isinstance(o, kinds))
    finally:
        gc.set_debug(0)
        with warnings.catch_warnings():  # freed now, whoever made them
            warnings.simplefilter("ignore", ResourceWarning)
            gc.garbage.clear()
        if was:
            gc.enable()


def test_a_sequenced_write_leaves_no_cycle_for_the_collector(world: World) -> None:
    world.issue("ent:a.h", 1_000)
    seq = Sequencer(world.engine)
    answers: list[Receipt] = []

    def write(amount: int) -> None:
        signed = Instruction.signed(transfer("ent:a.h", "ent:b.h", amount), ("ent:a", world.keys["ent:a"]))
        answers.append(seq.submit(signed, registry=world.registry))

    with garbage_left(_Job, _Group, Instruction) as garbage:
        writers = [threading.Thread(target=write, args=(n,)) for n in range(1, 9)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        assert len(answers) == 8
        assert seq.stats.groups >= 1
        del writers
    assert garbage == []


def test_the_server_freezes_what_start_up_made_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_OBJECTS, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
