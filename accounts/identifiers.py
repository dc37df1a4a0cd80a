"""Identifiers of participants: credit codes (GB 32100-2015), division codes (GB/T 2260), permit
numbers (HJ 608-2017) and account ids. Pure; each refusal names the field and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from accounts.errors import InvalidCreditCode, InvalidPermitNumber, UnknownDivision
from ledger.errors import InvalidInput
from ledger.model import check_id

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "DIVISIONS",
    "PROVINCE",
    "CreditCode",
    "Division",
    "account_id",
    "ancestors",
    "check_credit_code",
    "check_division",
    "check_permit_number",
    "check_slug",
    "complete_credit_code",
    "covers",
    "credit_code_check_char",
    "division",
    "organization_code_check_char",
    "parent",
]

# GB 32100-2015 §4: 18 characters from the digits and the capital letters without I, O, Z, S, V
# (they read too much like 1, 0, 2, 5 and U). A character's value is its index here.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}
# GB 32100-2015 §5 (after GB/T 17710's MOD 31-3): weight of position i is 3**(i-1) mod 31.
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_FORBIDDEN = frozenset("IOZSV")
# GB 11714-1997: the 9-character organization code at positions 9-17 has its own MOD 11 check.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"^[0-9A-Z]{8}$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
_PERMIT_TAIL = re.compile(r"^\d{3}[A-Z]$")

assert len(CREDIT_CODE_ALPHABET) == 31
assert not _FORBIDDEN & set(CREDIT_CODE_ALPHABET)
assert all(w == pow(3, i, 31) for i, w in enumerate(_WEIGHTS))


def credit_code_check_char(first17: str) -> str:
    """The 18th character for 17 characters of the alphabet: (31 - sum mod 31) mod 31."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def organization_code_check_char(first8: str) -> str:
    """GB 11714's check for an 8-character organization code body: 11 - sum mod 11, 10 -> X, 11 -> 0."""
    total = sum(int(c, 36) * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def complete_credit_code(prefix: str, division_code: str, organization_body: str) -> str:
    """A full code from its parts, both check characters computed: ``prefix`` is the registration
    authority and organization type (``"91"``: an enterprise registered by market regulation),
    then the 6-digit division and the 8-character organization code body."""
    parts = prefix + division_code + organization_body
    if len(prefix) != 2 or len(organization_body) != 8 or any(c not in _VALUE for c in parts):
        raise InvalidCreditCode(
            "parts must be 2 + 6 + 8 characters of the credit-code alphabet",
            field="credit_code",
            reason="parts",
        )
    org = organization_body + organization_code_check_char(organization_body)
    first17 = prefix + division_code + org
    return check_credit_code(first17 + credit_code_check_char(first17)).value


@dataclass(frozen=True, slots=True)
class CreditCode:
    """A validated unified social credit code (统一社会信用代码) and its parts."""

    value: str

    @property
    def registration_authority(self) -> str:
        return self.value[0]  # 1 机构编制, 5 民政, 9 市场监管 (工商) ...

    @property
    def organization_type(self) -> str:
        return self.value[1]  # with 9: 1 enterprise, 2 individual business, 3 farmers' cooperative

    @property
    def division(self) -> str:
        return self.value[2:8]  # where it was registered (GB/T 2260), not necessarily where it operates

    @property
    def organization_code(self) -> str:
        return self.value[8:17]

    def __str__(self) -> str:
        return self.value


def _credit_error(message: str, field: str, value: object, reason: str) -> InvalidCreditCode:
    return InvalidCreditCode(f"{field}: {message}", field=field, value=str(value)[:40], reason=reason)


def check_credit_code(value: object, *, field: str = "credit_code") -> CreditCode:
    """Validate an 18-character credit code: alphabet, division digits, both check characters.

    Refuses rather than repairs: lower case, spaces and the letters I O Z S V are errors, since a
    code that had to be corrected may belong to someone else.
    """
    if not isinstance(value, str):
        raise _credit_error("must be a string", field, value, "type")
    if len(value) != 18:
        raise _credit_error(f"must be 18 characters, got {len(value)}", field, value, "length")
    for pos, ch in enumerate(value, start=1):
        if ch in _VALUE:
            continue
        if ch in _FORBIDDEN:
            raise _credit_error(
                f"letter {ch!r} at position {pos} is never used (GB 32100-2015 excludes I, O, Z, S, V)",
                field,
                value,
                "forbidden_letter",
            )
        if ch != ch.upper() and (ch.upper() in _VALUE or ch.upper() in _FORBIDDEN):
            raise _credit_error(f"{ch!r} at position {pos} must be upper case", field, value, "lowercase")
        raise _credit_error(f"character {ch!r} at position {pos} is not allowed", field, value, "character")
    if not value[2:8].isdigit():
        raise _credit_error("positions 3-8 must be a 6-digit division code", field, value, "division")
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        raise _credit_error(
            f"check character is {value[17]!r} but the first 17 characters give {expected!r}",
            field,
            value,
            "check_character",
        )
    org = value[8:17]
    org_expected = organization_code_check_char(org[:8]) if _ORG_BODY.match(org[:8]) else None
    if org[8] != org_expected:
        raise _credit_error(
            f"the organization code {org} (positions 9-17) fails its GB 11714 check",
            field,
            value,
            "organization_check_character",
        )
    return CreditCode(value)


def check_permit_number(value: object, *, credit_code: str, field: str = "permit_number") -> str:
    """A discharge permit number (排污许可证编号): the holder's own credit code, a 3-digit sequence
    number of its site and a letter, e.g. 91130200699229617X001P (HJ 608-2017, annex A)."""
    if not isinstance(value, str) or len(value) != 22:
        raise InvalidPermitNumber(
            f"{field} must be 22 characters: credit code, 3-digit site number, letter", field=field
        )
    if value[:18] != credit_code:
        raise InvalidPermitNumber(
            f"{field} must begin with the holder's own credit code {credit_code}", field=field
        )
    if not _PERMIT_TAIL.match(value[18:]):
        raise InvalidPermitNumber(
            f"{field} must end with a 3-digit site number and a capital letter", field=field
        )
    return value


@dataclass(frozen=True, slots=True)
class Division:
    """An administrative division (行政区划) the registry serves."""

    code: str
    name: str
    name_zh: str

    @property
    def level(self) -> str:
        if self.code[2:] == "0000":
            return "province"
        return "city" if self.code[4:] == "00" else "county"


PROVINCE = "330000"

# GB/T 2260 codes of the divisions in the demo: Zhejiang, its 11 cities, and the counties whose
# markets the design documents cite (Yuyao, Xiangshan, Wuyi, Yiwu, Yongkang, Shengsi).
DIVISIONS: dict[str, Division] = {
    d.code: d
    for d in (
        Division("330000", "Zhejiang", "浙江省"),
        Division("330100", "Hangzhou", "杭州市"),
        Division("330200", "Ningbo", "宁波市"),
        Division("330225", "Xiangshan", "象山县"),
        Division("330281", "Yuyao", "余姚市"),
        Division("330300", "Wenzhou", "温州市"),
        Division("330400", "Jiaxing", "嘉兴市"),
        Division("330500", "Huzhou", "湖州市"),
        Division("330600", "Shaoxing", "绍兴市"),
        Division("330700", "Jinhua", "金华市"),
        Division("330723", "Wuyi", "武义县"),
        Division("330782", "Yiwu", "义乌市"),
        Division("330784", "Yongkang", "永康市"),
        Division("330800", "Quzhou", "衢州市"),
        Division("330900", "Zhoushan", "舟山市"),
        Division("330922", "Shengsi", "嵊泗县"),
        Division("331000", "Taizhou", "台州市"),
        Division("331100", "Lishui", "丽水市"),
    )
}


def division(code: object, *, field: str = "jurisdiction") -> Division:
    """The division with this code, or ``UnknownDivision`` naming the field."""
    if isinstance(code, str) and code in DIVISIONS:
        return DIVISIONS[code]
    if not isinstance(code, str) or not code.isdigit() or len(code) != 6:
        raise UnknownDivision(f"{field} must be a 6-digit division code", field=field, value=str(code)[:20])
    raise UnknownDivision(f"{field} {code} is not a division this registry serves", field=field, value=code)


def check_division(code: object, *, field: str = "jurisdiction") -> str:
    return division(code, field=field).code


def parent(code: str) -> str | None:
    """The division one level up by GB/T 2260's structure: 330281 -> 330200 -> 330000 -> None."""
    check_division(code, field="division")
    if code[4:] != "00":
        return code[:4] + "00"
    if code[2:4] != "00":
        return code[:2] + "0000"
    return None


def ancestors(code: str) -> list[str]:
    """Every division above ``code``, nearest first."""
    out: list[str] = []
    up = parent(code)
    while up is not None:
        out.append(up)
        up = parent(up)
    return out


def covers(ancestor: str, code: str) -> bool:
    """True when ``code`` is ``ancestor`` or lies within it (Ningbo covers Yuyao, not the reverse)."""
    return code == ancestor or ancestor in ancestors(code)


def check_slug(value: object, *, field: str = "slug") -> str:
    """A short lower-case name for participants without a credit code: ``zj-audit-1``."""
    if not isinstance(value, str) or not _SLUG.match(value):
        raise InvalidInput(f"{field} must be 1-48 lower-case letters, digits and inner hyphens", field=field)
    return value


def account_id(party: str, purpose: str, instrument: str | None = None) -> str:
    """A ledger account id: ``bureau:330281.reserve``, ``bureau:330281.cap.COD``.

    The ledger's ids allow letters, digits and ``. _ : -`` only, so the parts join with dots.
    """
    raw = f"{party}.{purpose}" if instrument is None else f"{party}.{purpose}.{instrument}"
    return check_id(raw, field="account")
