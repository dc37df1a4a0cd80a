"""A party's internal controls as the journal states them: its named users, four-eyes thresholds
(内部复核, 双人审批) and trusted-account list, and the registry's delay and limit for that list.

Pure values with one JSON form each; ``ledger.control_rules`` checks records against them, live and
in replay. The model is the EU Union Registry's (Commission Delegated Regulation (EU) 2019/1122,
art. 23 on the trusted account list, and the registry's second-representative approval).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ledger.errors import InvalidInput
from ledger.timeutil import format_utc, parse_utc

__all__ = [
    "APPROVED_BY",
    "CONTROLS_SET",
    "CONTROL_ACTIONS",
    "DEFAULT_TRUST_DELAY_WORKING_DAYS",
    "REGISTRY_CONTROLS",
    "TRUSTED_ACTIONS",
    "TRUST_ADD",
    "TRUST_REMOVE",
    "USER_ROLES",
    "Controls",
    "RegistryControls",
    "add_working_days",
]

CONTROLS_SET = "controls.set"  # a party's users, thresholds and whether it keeps a trusted list
TRUST_ADD = "trust.add"  # an account joins the party's trusted list from ``effective_at`` on
TRUST_REMOVE = "trust.remove"  # an account leaves it at once
REGISTRY_CONTROLS = "registry.controls"  # the registry's delay and outside-list limit
CONTROL_ACTIONS = frozenset({CONTROLS_SET, TRUST_ADD, TRUST_REMOVE, REGISTRY_CONTROLS})
# Where a trusted list applies: units an enterprise sends to another party's holding.
TRUSTED_ACTIONS = frozenset({"transfer", "trade", "bc.transfer"})
APPROVED_BY = "approved_by"  # meta key: {party: [user ids, proposer first]}
USER_ROLES = ("clerk", "approver")  # 经办人, 复核人
# EU Union Registry: an addition to the trusted list takes effect after 4 working days (Delegated
# Regulation (EU) 2019/1122, art. 23(3)); a registry record may set another figure.
DEFAULT_TRUST_DELAY_WORKING_DAYS = 4
_CST = timezone(timedelta(hours=8), "UTC+8")  # working days are counted on the calendar of China
_MAX_USERS = 50


def add_working_days(at: datetime, days: int) -> datetime:
    """``at`` moved on by ``days`` working days (Monday to Friday in UTC+8). Public holidays are not
    known to the ledger, so the delay is a floor a registry may raise by a ``registry.controls`` record."""
    moment, counted = at, 0
    while counted < days:
        moment += timedelta(days=1)
        if moment.astimezone(_CST).weekday() < 5:
            counted += 1
    return moment


def _kg(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise InvalidInput(f"{path} must be a whole number of kg, 0 or more", field=path)
    return value


@dataclass(frozen=True, slots=True)
class Controls:
    """One party's controls. ``four_eyes_kg``: body type -> the quantity (kg of units) above which a
    record needs two of the party's users; ``trusted``: account -> when its trust takes effect."""

    users: Mapping[str, str] = field(default_factory=dict)
    four_eyes_kg: Mapping[str, int] = field(default_factory=dict)
    trusted_list: bool = False
    trusted: Mapping[str, datetime] = field(default_factory=dict)

    @property
    def in_force(self) -> bool:
        """Whether a change of thresholds or of the list itself needs two users."""
        return bool(self.four_eyes_kg) or self.trusted_list

    def trusted_at(self, account: str, at: datetime) -> bool:
        since = self.trusted.get(account)
        return since is not None and since <= at

    def to_json(self) -> dict[str, Any]:
        return {
            "users": dict(sorted(self.users.items())),
            "four_eyes_kg": dict(sorted(self.four_eyes_kg.items())),
            "trusted_list": self.trusted_list,
            "trusted": {a: format_utc(t) for a, t in sorted(self.trusted.items())},
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Controls:
        return cls(
            dict(obj.get("users", {})),
            dict(obj.get("four_eyes_kg", {})),
            bool(obj.get("trusted_list", False)),
            {a: parse_utc(t) for a, t in obj.get("trusted", {}).items()},
        )


def parse_users(value: object, path: str) -> dict[str, str]:
    """``{user id: role}``: ids are short tokens, roles ``clerk`` or ``approver``."""
    from ledger.model import check_id  # the id grammar of every other name in a record

    if not isinstance(value, dict) or len(value) > _MAX_USERS:
        raise InvalidInput(f"{path} must be an object of at most {_MAX_USERS} users", field=path)
    for user, role in value.items():
        check_id(user, field=f"{path}.{user}")
        if role not in USER_ROLES:
            raise InvalidInput(
                f"{path}.{user} must be one of {', '.join(USER_ROLES)}", field=f"{path}.{user}"
            )
    return dict(value)


def parse_thresholds(value: object, path: str) -> dict[str, int]:
    if not isinstance(value, dict) or len(value) > 64:
        raise InvalidInput(f"{path} must be an object of body type -> kg", field=path)
    return {str(action): _kg(kg, f"{path}.{action}") for action, kg in value.items()}


@dataclass(frozen=True, slots=True)
class RegistryControls:
    """What the registry sets for every trusted list: the delay before an addition takes effect, and
    the most one transfer may send outside the list (EU: a central limit of 2,000,000 allowances)."""

    trust_delay_working_days: int = DEFAULT_TRUST_DELAY_WORKING_DAYS
    outside_list_limit_kg: int = 0  # 0: nothing goes outside the list

    def to_json(self) -> dict[str, Any]:
        return {
            "trust_delay_working_days": self.trust_delay_working_days,
            "outside_list_limit_kg": self.outside_list_limit_kg,
        }

    @classmethod
    def parse(cls, obj: Mapping[str, Any], path: str = "body.meta") -> RegistryControls:
        extra = set(obj) - {"trust_delay_working_days", "outside_list_limit_kg"}
        if extra:
            name = sorted(extra)[0]
            raise InvalidInput(f"{path}.{name} is not a known field", field=f"{path}.{name}")
        days = obj.get("trust_delay_working_days", DEFAULT_TRUST_DELAY_WORKING_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 60:
            raise InvalidInput(
                f"{path}.trust_delay_working_days must be 0 to 60", field=f"{path}.trust_delay_working_days"
            )
        limit = _kg(obj.get("outside_list_limit_kg", 0), f"{path}.outside_list_limit_kg")
        return cls(days, limit)
