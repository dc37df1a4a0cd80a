"""The member register's values (market.households.model): the identity hash is the documented encoding,
ID-card numbers carry a valid check character, areas are exact hundredths of a mu, and names print masked."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from ledger.errors import InvalidInput
from market.households.model import (
    MemberEntry,
    area_cmu,
    check_id_card,
    id_card_with_check,
    identity_hash,
    mask_name,
)


def test_the_identity_hash_is_sha256_over_the_tag_the_salt_and_the_canonical_name_and_number() -> None:
    salt = bytes(range(32))
    canonical = '{"id_card":"11010519491231002X","name":"王海"}'.encode()
    expected = hashlib.sha256(b"ecoledger-member-v1\x00" + salt + canonical).hexdigest()
    assert identity_hash("王海", "11010519491231002X", salt) == expected
    assert identity_hash("王海", "11010519491231002X", bytes(32)) != expected  # the salt matters
    with pytest.raises(ValueError, match="32 bytes"):
        identity_hash("王海", "11010519491231002X", b"short")


def test_an_id_card_number_needs_its_gb11643_check_character() -> None:
    assert check_id_card("11010519491231002X", field="id_card") == "11010519491231002X"  # GB 11643's example
    assert id_card_with_check("11010519491231002") == "11010519491231002X"
    for bad in ("110105194912310021", "11010519491231002", "1101051949123100ZX", 110105194912310020):
        with pytest.raises(InvalidInput):
            check_id_card(bad, field="id_card")


def test_areas_are_exact_hundredths_of_a_mu_and_floats_are_refused() -> None:
    assert area_cmu("42.5") == 4250
    assert area_cmu(Decimal("0.01")) == 1
    assert area_cmu(22_000) == 2_200_000
    for bad in ("0", "-1", "1.005", "abc", "NaN", "Infinity"):
        with pytest.raises(InvalidInput):
            area_cmu(bad)
    with pytest.raises(TypeError):
        area_cmu(1.5)
    entry = MemberEntry("SS0001", "王海", "11010519491231002X", Decimal("42.50"))
    assert entry.area_cmu == 4250


def test_a_printed_name_keeps_its_first_character() -> None:
    assert mask_name("王海") == "王*"
    assert mask_name("欧阳海波") == "欧***"
    assert mask_name("王") == "王*"
