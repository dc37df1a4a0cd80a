"""Text a person types into the registry (names, projects, reasons, labels): refused when it holds
control characters or the invisible bidirectional controls that make a text read other than it is.

Unicode's bidi controls (UAX #9: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM, RLM, ALM) can show
"余姚化工" where the bytes say something else (CVE-2021-42574, "Trojan Source"); a NUL cuts a name short
in C-based tools. Chinese, English and their punctuation need neither.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InvalidInput

__all__ = ["BIDI_CONTROLS", "InvalidText", "check_text", "text_problem"]

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, line breaks


class InvalidText(InvalidInput):
    code = "invalid_text"


def text_problem(value: str, *, allow_newlines: bool = False) -> str | None:
    """What is wrong with ``value`` (naming the first refused character), or ``None``."""
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
