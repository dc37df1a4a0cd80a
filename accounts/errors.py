"""Errors of the accounts package (identifiers, participants, permissions, API credentials), each
a ``DomainError`` with a stable code that ``api/errors.py`` maps once. Added to the ledger's tree::

    DomainError
    ├── InvalidInput
    │   ├── InvalidCreditCode      GB 32100-2015 code malformed or its check character wrong
    │   ├── UnknownDivision        not a 6-digit division code of the registry's table
    │   └── InvalidPermitNumber    discharge permit number not of the HJ 608-2017 form
    ├── NotFound
    │   ├── UnknownParticipant
    │   ├── UnknownCredential
    │   └── NoCustodyKey           the registry holds no valid key of this party: it signs itself
    ├── PermissionDenied           the actor may not do this: ``details["rule"]`` names the rule
    ├── InvalidCredentials         API token unknown, wrong or revoked (never says which)
    ├── SecondFactorRequired       the key is right; its console login also needs a one-time code
    ├── SecondFactorInvalid        that code is wrong, stale or already used
    └── SecondFactorNotOffered     TOTP is for the console users of bureaus and banks
"""

from __future__ import annotations

from typing import Any

from ledger.errors import DomainError, InvalidInput, NotFound

__all__ = [
    "InvalidCredentials",
    "InvalidCreditCode",
    "InvalidPermitNumber",
    "NoCustodyKey",
    "PermissionDenied",
    "SecondFactorInvalid",
    "SecondFactorNotOffered",
    "SecondFactorRequired",
    "UnknownCredential",
    "UnknownDivision",
    "UnknownParticipant",
]


class InvalidCreditCode(InvalidInput):
    code = "invalid_credit_code"


class UnknownDivision(InvalidInput):
    code = "unknown_division"


class InvalidPermitNumber(InvalidInput):
    code = "invalid_permit_number"


class UnknownParticipant(NotFound):
    code = "unknown_participant"


class UnknownCredential(NotFound):
    code = "unknown_credential"


class NoCustodyKey(NotFound):
    """The registry holds no currently valid key of the party, so it cannot sign for it: the
    party signs with its own key (the Python client) where the route takes signatures."""

    code = "no_custody_key"


class PermissionDenied(DomainError):
    """Refused by the permission table; ``rule`` is the name of the rule that refused."""

    code = "permission_denied"

    def __init__(self, message: str, *, rule: str, action: str, actor: str, **details: Any) -> None:
        super().__init__(message, rule=rule, action=action, actor=actor, **details)
        self.rule = rule


class InvalidCredentials(DomainError):
    """One answer for every failed authentication, so a caller learns nothing from it.

    ``reason`` is for the server's log only and is kept out of ``details``.
    """

    code = "invalid_credentials"

    def __init__(self, reason: str) -> None:
        super().__init__("the API credential is unknown, wrong or revoked")
        self.reason = reason


class SecondFactorRequired(DomainError):
    code = "second_factor_required"


class SecondFactorInvalid(DomainError):
    code = "second_factor_invalid"


class SecondFactorNotOffered(InvalidInput):
    code = "second_factor_not_offered"
