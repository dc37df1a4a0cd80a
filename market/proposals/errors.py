"""Domain errors of proposals, each with a stable code, under the ``ledger.errors`` families::

    NotFound
    └── UnknownProposal            no such proposal, or not one the caller takes part in
    Conflict
    ├── ProposalClosed             applied, rejected, withdrawn or expired: nothing more can be done
    └── ProposalOutOfOrder         the caller's slot waits for another's signature first

A kind may subclass the pair to keep the codes its API contract has always answered (e.g.
``unknown_trade_offer``); the generic routes answer the pair's own codes.
"""

from __future__ import annotations

from ledger.errors import Conflict, NotFound

__all__ = ["ProposalClosed", "ProposalOutOfOrder", "UnknownProposal"]


class UnknownProposal(NotFound):
    code = "unknown_proposal"


class ProposalClosed(Conflict):
    """Already applied, rejected, withdrawn or lapsed: nothing more can be done to it."""

    code = "proposal_closed"


class ProposalOutOfOrder(Conflict):
    """The caller's slot waits for earlier signers (``awaiting``): a bureau approves a cross-city
    request only once its buyer has accepted it."""

    code = "proposal_out_of_order"
