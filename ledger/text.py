"""Text people type and read in the registry: ``check_text`` for any free text of a request (names,
projects, reasons, labels) and the stricter ``check_display_text`` for what a certificate shows.

Neither lets through what hides or reorders what is displayed: Unicode's bidi controls (UAX #9: LRE,
RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM) can show "余姚化工" where the bytes say something
else (CVE-2021-42574, "Trojan Source"); a NUL cuts a name short in C-based tools.
"""

from __future__ import annotations

import re
import unicodedata

from ledger.errors import InvalidInput

__all__ = ["BIDI_CONTROLS", "InvalidText", "check_display_text", "check_text", "text_problem"]

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, line breaks


class InvalidText(InvalidInput):
    code = "invalid_text"


# The same characters as one class, for the common case of clean text: every request's strings pass
# through here, and a regex scan costs a small part of the loop below. Cc, Cs, Zl and Zp are fixed
# sets (C0 and C1 controls, surrogates, U+2028, U+2029); a test checks the two agree on every code point.
_OTHER_REFUSED = r"\x7f-\x9f\ud800-\udfff\u2028\u2029" + "".join(sorted(BIDI_CONTROLS))
_REFUSED_ANY = re.compile(rf"[\x00-\x1f{_OTHER_REFUSED}]")
_REFUSED_BUT_NEWLINES = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f{_OTHER_REFUSED}]")  # not \t \n \r


def text_problem(value: str, *, allow_newlines: bool = False) -> str | None:
    """What is wrong with ``value`` (naming the first refused character), or ``None``."""
    if (_REFUSED_BUT_NEWLINES if allow_newlines else _REFUSED_ANY).search(value) is None:
        return None
    for i, ch in enumerate(value):
        if allow_newlines and ch in "\n\r\t":
            continue
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            kind = "a bidirectional control" if ch in BIDI_CONTROLS else "a control character"
            return f"holds {kind} (U+{ord(ch):04X}) at position {i}"
    return None


def check_text(value: str, *, field: str, allow_newlines: bool = False) -> str:
    """``value`` itself, or ``InvalidText`` naming ``field`` and the character."""
    problem = text_problem(value, allow_newlines=allow_newlines)
    if problem is not None:
        raise InvalidText(f"{field} {problem}", field=field)
    return value


# Cc control, Cf format (the bidi overrides and isolates, zero-width joiners), Cs lone surrogates,
# Co private use, Cn unassigned, Zl/Zp line and paragraph separators: each can make two different
# strings look alike or reorder what a reader sees.
_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_display_text(value: object, *, field: str, max_len: int = 64) -> str:
    """``value`` if it is 1 to ``max_len`` characters of printable Unicode in NFC form, without
    leading or trailing spaces; ``InvalidInput`` naming ``field`` and the offending character if not.
    (e.g. 余排污质〔2026〕第018号 passes; a right-to-left override or a newline does not)."""
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise InvalidInput(f"{field} must be 1-{max_len} characters of text", field=field)
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in _REFUSED:
            raise InvalidInput(
                f"{field} has a control, format or unassigned character U+{ord(ch):04X} at {i}",
                field=field,
                character=f"U+{ord(ch):04X}",
            )
    if value != value.strip():
        raise InvalidInput(f"{field} must not begin or end with spaces", field=field)
    if unicodedata.normalize("NFC", value) != value:
        # One spelling per text: two encodings of the same certificate number must not both exist.
        raise InvalidInput(f"{field} must be in Unicode normal form C", field=field)
    return value
