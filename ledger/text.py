"""Free text shown to people (certificate numbers, names): any script, but nothing that hides or
reorders what is displayed, so the text a bank reads is the text every party signed.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InvalidInput

__all__ = ["check_display_text"]

# Cc control, Cf format (the bidi overrides and isolates, zero-width joiners), Cs lone surrogates,
# Co private use, Cn unassigned, Zl/Zp line and paragraph separators: each can make two different
# strings look alike or reorder what a reader sees (CVE-2021-42574, "Trojan Source").
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
