"""Domain errors of pledge loans (排污权抵质押) and their certificates, each with a stable code, under
the ``ledger.errors`` families (so an adapter that maps families maps these)::

    InvalidInput
    ├── InvalidLoanTerms           a loan that cannot be recorded (rate, term or amount out of range)
    └── MalformedCertificate       a pledge certificate that does not parse
    NotFound ── UnknownPledge
    Conflict ── PledgeStateConflict    a step the pledge's state does not allow (e.g. confirming unapproved)
    RuleViolation
    ├── CollateralUnavailable      units already pledged (to this or another bank) or not held free
    ├── LoanExceedsValue           a loan above the loan-to-value cap (80% of the appraised value)
    └── LoanTermBeyondValidity     a loan maturing after the pledged right's validity ends
"""

from __future__ import annotations

from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation

__all__ = [
    "CollateralUnavailable",
    "InvalidLoanTerms",
    "LoanExceedsValue",
    "LoanTermBeyondValidity",
    "MalformedCertificate",
    "PledgeStateConflict",
    "UnknownPledge",
]


class InvalidLoanTerms(InvalidInput):
    code = "invalid_loan_terms"


class MalformedCertificate(InvalidInput):
    code = "malformed_certificate"


class UnknownPledge(NotFound):
    code = "unknown_pledge"


class PledgeStateConflict(Conflict):
    code = "pledge_state_conflict"


class CollateralUnavailable(RuleViolation):
    """Units that cannot be pledged: ``details`` carry ``available_kg``, ``requested_kg`` and the
    ``pledged_to`` banks already holding (or applying for) the same units."""

    code = "collateral_unavailable"


class LoanExceedsValue(RuleViolation):
    code = "loan_exceeds_value"


class LoanTermBeyondValidity(RuleViolation):
    code = "loan_term_beyond_validity"
