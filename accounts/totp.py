"""The console's optional second factor for bureaus and banks: RFC 6238 time-based one-time codes
(30 s steps, 6 digits, HMAC-SHA-1, as authenticator apps expect), each code accepted once.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
from sqlmodel import Session

from accounts.errors import SecondFactorInvalid, SecondFactorNotOffered, SecondFactorRequired
from accounts.model import Participant, Role
from accounts.tables import TotpRow
from ledger.timeutil import format_utc

__all__ = [
    "OFFERED_TO",
    "check_second_factor",
    "confirm_totp",
    "provisioning_uri",
    "start_totp",
    "totp_enabled",
]

OFFERED_TO = (Role.BUREAU, Role.BANK)  # those who approve, register pledges and move money
_DRIFT_STEPS = 1  # a code of the step before or after is taken too: clocks and typing take time


def totp_enabled(session: Session, *, party: str) -> bool:
    row = session.get(TotpRow, party)
    return row is not None and row.confirmed_at is not None


def start_totp(session: Session, *, actor: Participant) -> str:
    """A new secret for ``actor``, pending until ``confirm_totp`` sees a code made from it. An enabled
    factor is never replaced here: a session alone (a borrowed browser) cannot take it over."""
    if actor.role not in OFFERED_TO:
        raise SecondFactorNotOffered(
            f"a second factor is offered to {', '.join(r.value for r in OFFERED_TO)} users", field="role"
        )
    secret = pyotp.random_base32()
    row = session.get(TotpRow, actor.party)
    if row is None:
        row = TotpRow(party=actor.party, secret=secret)
    elif row.confirmed_at is not None:
        raise SecondFactorInvalid("a second factor is already enabled", field="otp")
    else:
        row.secret = secret
    session.add(row)
    session.flush()
    return secret


def provisioning_uri(secret: str, *, account: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (typed in, or from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name="ecoledger")


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    if not (isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def confirm_totp(session: Session, *, actor: Participant, code: str, now: datetime) -> None:
    """Enable the pending factor once a code made from its secret is given."""
    row = session.get(TotpRow, actor.party)
    if row is None or row.confirmed_at is not None:
        raise SecondFactorInvalid("no second factor is waiting to be confirmed", field="otp")
    step = _matching_step(row.secret, code, now)
    if step is None:
        raise SecondFactorInvalid("the one-time code does not match", field="otp")
    row.confirmed_at, row.last_step = format_utc(now), step
    session.add(row)
    session.flush()


def check_second_factor(session: Session, *, party: str, code: str | None, now: datetime) -> None:
    """At login: nothing to check without an enabled factor; otherwise a fresh code of this party's
    secret, never one already used (its time step must be later than the last accepted one)."""
    row = session.get(TotpRow, party)
    if row is None or row.confirmed_at is None:
        return
    if not code:
        raise SecondFactorRequired("this login also needs the one-time code", field="otp")
    step = _matching_step(row.secret, code, now)
    if step is None or step <= row.last_step:
        raise SecondFactorInvalid("the one-time code is wrong or was already used", field="otp")
    row.last_step = step
    session.add(row)
    session.flush()
