"""Domain errors of the ledger, each with a stable code that adapters map once.

The tree, so a caller can catch at the right depth::

    DomainError
    ├── InvalidInput              malformed values: field named, reason given
    │   ├── UnknownInstrument
    │   ├── InvalidQuantity
    │   ├── InvalidLot
    │   ├── UnbalancedTransaction
    │   ├── InvalidPublicKey      not a prime-order curve point (all-zero, small order...)
    │   └── MalformedRecord       bytes that are not a canonical record
    ├── NotFound
    │   ├── UnknownAccount
    │   ├── UnknownParty
    │   ├── UnknownKey
    │   └── UnknownHold
    ├── Conflict
    │   ├── DuplicateAccount, DuplicateParty, DuplicateKey, DuplicateHold
    │   ├── DuplicateInstruction  the same signed body twice (replay attack)
    │   ├── IdempotencyKeyReused  same key, other body
    │   ├── LedgerNotInitialized / LedgerAlreadyInitialized
    │   ├── RegistryKeyMismatch   the configured key is not the registry's valid key
    │   └── HoldNotOpen
    ├── RuleViolation             a ledger rule would break
    │   ├── InsufficientBalance
    │   ├── UnitsEncumbered       units are under a hold (pledge, escrow)
    │   ├── AccountCannotSend     sink accounts (retirement) never send
    │   ├── ExpiredUnits          past validity: only an expiry run moves them
    │   ├── HoldNotPermitted
    │   ├── MovementNotAllowed    the body type may not move these units this way (ledger.movements)
    │   ├── WrongJurisdiction     units outside their jurisdiction, or a second bureau for one
    │   ├── UnknownRuleSet        a rule set this software does not know, or going backwards
    │   ├── InvalidPledgeRegistration  loan terms or the bureau's approval missing or inconsistent
    │   ├── FourEyesRequired      above a party's threshold, one user's approval is not enough
    │   ├── UnknownUser           an approval names no user of the party
    │   ├── AccountNotTrusted     a destination not (yet) on the sender's trusted list
    │   ├── TrustDelayNotMet      a trusted-list addition effective before the registry's delay
    │   ├── InvalidFederationRecord    a cross-journal leg that cites nothing, or not what it moves
    │   └── InvalidHouseholdRecord     a roster, attribution or proceeds split the rules do not give
    └── SignatureError            consent missing or not proven
        ├── MissingSignature
        ├── BadSignature
        ├── DuplicateSignature    the same party (or signature) twice on one body
        ├── CustodyNotHeld        "custody": true on a key the registry does not hold
        └── KeyNotValid           revoked, not yet valid, or of another party
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AccountCannotSend",
    "AccountNotTrusted",
    "BadSignature",
    "Conflict",
    "CustodyNotHeld",
    "DomainError",
    "DuplicateAccount",
    "DuplicateHold",
    "DuplicateInstruction",
    "DuplicateKey",
    "DuplicateParty",
    "DuplicateSignature",
    "ExpiredUnits",
    "FourEyesRequired",
    "HoldNotOpen",
    "HoldNotPermitted",
    "IdempotencyKeyReused",
    "InsufficientBalance",
    "InvalidFederationRecord",
    "InvalidHouseholdRecord",
    "InvalidInput",
    "InvalidLot",
    "InvalidPledgeRegistration",
    "InvalidPublicKey",
    "InvalidQuantity",
    "KeyNotValid",
    "LedgerAlreadyInitialized",
    "LedgerNotInitialized",
    "MalformedRecord",
    "MissingSignature",
    "MovementNotAllowed",
    "NotFound",
    "RegistryKeyMismatch",
    "RuleViolation",
    "SignatureError",
    "TrustDelayNotMet",
    "UnbalancedTransaction",
    "UnitsEncumbered",
    "UnknownAccount",
    "UnknownHold",
    "UnknownInstrument",
    "UnknownKey",
    "UnknownParty",
    "UnknownRuleSet",
    "UnknownUser",
    "WrongJurisdiction",
]


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``code`` is stable (clients switch on it); ``details`` carries the evidence
    (field, account, amounts) as JSON-ready values.
    """

    code: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(DomainError):
    code = "invalid_input"

    def __init__(self, message: str, *, field: str, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class UnknownInstrument(InvalidInput):
    code = "unknown_instrument"


class InvalidQuantity(InvalidInput):
    code = "invalid_quantity"


class InvalidLot(InvalidInput):
    code = "invalid_lot"


class UnbalancedTransaction(InvalidInput):
    code = "unbalanced_transaction"


class InvalidPublicKey(InvalidInput):
    """``details["reason"]``: all_zero, non_canonical, not_on_curve, small_order, mixed_order, length."""

    code = "invalid_public_key"


class MalformedRecord(InvalidInput):
    code = "malformed_record"


class NotFound(DomainError):
    code = "not_found"


class UnknownAccount(NotFound):
    code = "unknown_account"


class UnknownParty(NotFound):
    code = "unknown_party"


class UnknownKey(NotFound):
    code = "unknown_key"


class UnknownHold(NotFound):
    code = "unknown_hold"


class Conflict(DomainError):
    code = "conflict"


class DuplicateAccount(Conflict):
    code = "duplicate_account"


class DuplicateParty(Conflict):
    code = "duplicate_party"


class DuplicateKey(Conflict):
    code = "duplicate_key"


class DuplicateHold(Conflict):
    code = "duplicate_hold"


class DuplicateInstruction(Conflict):
    code = "duplicate_instruction"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class LedgerNotInitialized(Conflict):
    code = "ledger_not_initialized"


class LedgerAlreadyInitialized(Conflict):
    code = "ledger_already_initialized"


class RegistryKeyMismatch(Conflict):
    """The registry key configured is not record 0's key nor, after a rotation, a registry key valid
    now: anything sealed with it would fail replay for good, so nothing is written with it."""

    code = "registry_key_mismatch"


class HoldNotOpen(Conflict):
    code = "hold_not_open"


class RuleViolation(DomainError):
    code = "rule_violation"


class InsufficientBalance(RuleViolation):
    code = "insufficient_balance"


class UnitsEncumbered(RuleViolation):
    code = "units_encumbered"


class AccountCannotSend(RuleViolation):
    code = "account_cannot_send"


class ExpiredUnits(RuleViolation):
    code = "expired_units"


class HoldNotPermitted(RuleViolation):
    code = "hold_not_permitted"


class MovementNotAllowed(RuleViolation):
    code = "movement_not_allowed"


class WrongJurisdiction(RuleViolation):
    code = "wrong_jurisdiction"


class UnknownRuleSet(RuleViolation):
    code = "unknown_rule_set"


class InvalidPledgeRegistration(RuleViolation):
    """A pledge registration whose signed loan terms or bureau approval are missing, malformed or
    do not match its hold (``field`` names the part of the body)."""

    code = "invalid_pledge_registration"


class FourEyesRequired(RuleViolation):
    """Above a party's four-eyes threshold (双人审批) a record needs two of its users, a second one an
    approver; the journal names both (``meta.approved_by``)."""

    code = "four_eyes_required"


class UnknownUser(RuleViolation):
    code = "unknown_user"


class AccountNotTrusted(RuleViolation):
    """The sender adopted a trusted-account list and the destination is not on it, or not yet in effect."""

    code = "account_not_trusted"


class TrustDelayNotMet(RuleViolation):
    code = "trust_delay_not_met"


class InvalidFederationRecord(RuleViolation):
    """A cross-journal transfer leg (``ledger.federation_rules``) whose citation of the other journal's
    record is missing or malformed, or that moves other units than it cites (``field`` names the part)."""

    code = "invalid_federation_record"


class InvalidHouseholdRecord(RuleViolation):
    """A household roster, an issuance's attribution to members or a sale's split of its proceeds
    that ``ledger.households`` does not give: a member left out or shortchanged, the fee not the one
    agreed (``field`` names the part of the body)."""

    code = "invalid_household_record"


class SignatureError(DomainError):
    code = "signature_error"


class MissingSignature(SignatureError):
    code = "missing_signature"


class BadSignature(SignatureError):
    code = "bad_signature"


class DuplicateSignature(SignatureError):
    code = "duplicate_signature"


class CustodyNotHeld(SignatureError):
    code = "custody_not_held"


class KeyNotValid(SignatureError):
    code = "key_not_valid"
