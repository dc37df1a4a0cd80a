"""The federation coordinator as a process of its own, killed by SIGKILL at a named step of a transfer.

Run ``python -m tests.integration.federation_crash SOURCE_URL DEST_URL TRANSFER AMOUNT RECEIVER STEP``:
it prints each step as it passes it, and kills itself right after STEP (``none``: runs to the end).
"""

from __future__ import annotations

import os
import signal
import sys

from ledger.db import make_engine
from ledger.federation import Coordinator
from tests.federation_support import NINGBO, YUYAO, member, signed_hold


def main(argv: list[str]) -> int:
    source_url, dest_url, transfer, amount, receiver, crash_at = argv
    source = member(make_engine(source_url), YUYAO)
    destination = member(make_engine(dest_url), NINGBO)

    def step(name: str) -> None:
        print(name, flush=True)
        if name == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback: as when the machine dies

    request = signed_hold(source, destination, transfer, int(amount), receiver if receiver != "-" else None)
    result = Coordinator(source, destination, step=step).transfer(request)
    print(f"done {result.outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
