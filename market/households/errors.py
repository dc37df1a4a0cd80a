"""Refusals of the household workflow, each with a stable code (``api/errors.py`` maps the families).

DomainError
├── NotFound
│   ├── UnknownRoster
│   └── UnknownMember
└── Conflict
    ├── RosterAlreadyConfirmed
    └── MemberIdentityMismatch   a member id already stands for another household
"""

from __future__ import annotations

from ledger.errors import Conflict, NotFound

__all__ = ["MemberIdentityMismatch", "RosterAlreadyConfirmed", "UnknownMember", "UnknownRoster"]


class UnknownRoster(NotFound):
    code = "unknown_roster"


class UnknownMember(NotFound):
    code = "unknown_member"


class RosterAlreadyConfirmed(Conflict):
    code = "roster_already_confirmed"


class MemberIdentityMismatch(Conflict):
    code = "member_identity_mismatch"
