"""``ledger.text.text_problem`` answers clean text from one regex scan; that scan must refuse exactly
the characters the per-character rule refuses, for every code point, with and without newlines."""

from __future__ import annotations

import unicodedata

import pytest

from ledger.text import BIDI_CONTROLS, text_problem


def refused(ch: str, *, allow_newlines: bool) -> bool:
    """The rule as ``ledger.text`` states it: bidi controls and the Cc, Cs, Zl, Zp categories."""
    if allow_newlines and ch in "\n\r\t":
        return False
    return ch in BIDI_CONTROLS or unicodedata.category(ch) in {"Cc", "Cs", "Zl", "Zp"}


@pytest.mark.parametrize("allow_newlines", [False, True])
def test_the_scan_refuses_exactly_what_the_rule_refuses_on_every_code_point(allow_newlines: bool) -> None:
    disagree = [
        f"U+{cp:04X}"
        for cp in range(0x110000)
        if (text_problem(chr(cp), allow_newlines=allow_newlines) is not None)
        != refused(chr(cp), allow_newlines=allow_newlines)
    ]
    assert disagree == []


def test_a_refused_character_inside_clean_text_is_named_with_its_position() -> None:
    assert text_problem("余姚化工\u202e有限公司") == "holds a bidirectional control (U+202E) at position 4"
    assert text_problem("ab\x00c") == "holds a control character (U+0000) at position 2"
    assert text_problem("line\nbreak", allow_newlines=True) is None
    assert text_problem("line\nbreak") is not None
