"""The whole ledger state in memory: what replay rebuilds and property tests compare to.

It is a ``LedgerView`` for the rules and applies their ``Effect``s; it holds no journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.auction_book import AuctionBook
from ledger.auction_rules import commit_change
from ledger.controls import Controls, RegistryControls
from ledger.forced_sale import ForcedClaim
from ledger.households import Attribution, Roster
from ledger.model import REGISTRY, BalanceKey
from ledger.pledge_terms import PledgeLoan
from ledger.rules import AccountInfo, Effect, Hold, KeyInfo, PartyInfo, Position

__all__ = ["HoldArchive", "LedgerState"]


class HoldArchive(Protocol):
    """Where closed (released or captured) holds go: they never change again, but their ids
    stay taken and settling one again must still be refused as ``HoldNotOpen``."""

    def put(self, hold: Hold) -> None: ...
    def get(self, hold_id: str) -> Hold | None: ...


@dataclass
class LedgerState:
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    positions: dict[BalanceKey, Position] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    rule_set: int = 1  # raised by ``rules.adopt`` records
    bureaus: dict[str, str] = field(default_factory=dict)  # jurisdiction -> its bureau's party id
    auctions: dict[str, AuctionBook] = field(default_factory=dict)  # opened under rule set 2 on
    controls: dict[str, Controls] = field(default_factory=dict)  # parties' four-eyes and trusted lists
    registry: RegistryControls = field(default_factory=RegistryControls)
    pledge_loans: dict[str, PledgeLoan] = field(default_factory=dict)  # signed loan terms, by pledge id
    claims: dict[str, ForcedClaim] = field(default_factory=dict)  # forced sales' claims, by pledge id
    rosters: dict[str, Roster] = field(default_factory=dict)  # confirmed household rosters by id
    attributions: dict[str, Attribution] = field(default_factory=dict)  # by batch
    # With an archive, closed holds leave memory for it (a long replay's memory stays flat).
    archive: HoldArchive | None = field(default=None, compare=False, repr=False)

    def find_account(self, account_id: str) -> AccountInfo | None:
        return self.accounts.get(account_id)

    def position(self, key: BalanceKey) -> Position:
        return self.positions.get(key, _ZERO)

    def find_hold(self, hold_id: str) -> Hold | None:
        found = self.holds.get(hold_id)
        if found is None and self.archive is not None:
            return self.archive.get(hold_id)
        return found

    def has_party(self, party: str) -> bool:
        return party in self.parties

    def find_key(self, key_id: str) -> KeyInfo | None:
        return self.keys.get(key_id)

    def find_party(self, party: str) -> PartyInfo | None:
        profile = self.parties.get(party)
        if profile is None:
            return None
        return PartyInfo.of(party, str(profile.get("role")), profile)

    def bureau_of(self, jurisdiction: str) -> str | None:
        return self.bureaus.get(jurisdiction)

    def find_auction(self, auction_id: str) -> AuctionBook | None:
        return self.auctions.get(auction_id)

    def find_controls(self, party: str) -> Controls | None:
        return self.controls.get(party)

    def registry_controls(self) -> RegistryControls:
        return self.registry

    def find_pledge_loan(self, pledge_id: str) -> PledgeLoan | None:
        return self.pledge_loans.get(pledge_id)

    def find_claim(self, pledge_id: str) -> ForcedClaim | None:
        return self.claims.get(pledge_id)

    def find_roster(self, roster: str) -> Roster | None:
        return self.rosters.get(roster)

    def find_attribution(self, batch: str) -> Attribution | None:
        return self.attributions.get(batch)

    def commit(self, effect: Effect) -> None:
        for key, pos in effect.positions.items():
            if pos.total == 0 and pos.held == 0:
                self.positions.pop(key, None)
            else:
                self.positions[key] = pos
        for hold_id, hold in effect.holds.items():
            if self.archive is not None and hold.status != "open":
                self.holds.pop(hold_id, None)
                self.archive.put(hold)
            else:
                self.holds[hold_id] = hold
        if effect.account is not None:
            self.accounts[effect.account.id] = effect.account
        if effect.party is not None:
            self.parties[effect.party.party] = {**effect.party.profile, "role": effect.party.role}
            info = PartyInfo.of(effect.party.party, effect.party.role, effect.party.profile)
            if info.role == "bureau" and info.jurisdiction is not None:
                self.bureaus.setdefault(info.jurisdiction, info.id)
        if effect.rule_set is not None:
            self.rule_set = effect.rule_set
        if effect.auction is not None:
            commit_change(self.auctions, effect.auction, keep_closed=False)
        if effect.key is not None:
            self.keys[effect.key.key_id] = effect.key
        if effect.controls is not None:
            party, controls = effect.controls
            if isinstance(controls, RegistryControls):
                self.registry = controls
            elif party != REGISTRY:
                self.controls[party] = controls
        if effect.pledge_loan is not None:
            self.pledge_loans[effect.pledge_loan[0]] = effect.pledge_loan[1]
        if effect.claim is not None:
            self.claims[effect.claim.pledge] = effect.claim
        if effect.household is not None:
            if effect.household.roster is not None:
                self.rosters[effect.household.roster.id] = effect.household.roster
            if effect.household.attribution is not None:
                self.attributions[effect.household.attribution.batch] = effect.household.attribution

    def balances(self) -> dict[BalanceKey, Position]:
        """Every non-zero position, the form live balances are compared in."""
        return dict(self.positions)

    def totals(self) -> dict[tuple[str, str], int]:
        """Sum over all accounts per (instrument, lot): zero, always (double entry)."""
        out: dict[tuple[str, str], int] = {}
        for (_, code, lot), pos in self.positions.items():
            out[(code, lot)] = out.get((code, lot), 0) + pos.total
        return out


_ZERO = Position()
