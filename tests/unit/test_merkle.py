"""RFC 6962 / 9162 Merkle trees: published vectors, every proof up to 40 leaves, mangled proofs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# RFC 6962 test vectors published with Certificate Transparency (certificate-transparency-go /
# transparency-dev merkle testonly). Proof indices below are 0-based (testonly's are 1-based).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (index, size, path)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
CT_CONSISTENCY = [  # (first, second, path)
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (1, 1, []),
]

CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]
MAX_SIZE = 40
LEAVES = [leaf_hash(i.to_bytes(2, "big")) for i in range(MAX_SIZE)]
ROOTS = [root_of(LEAVES[:n]) for n in range(MAX_SIZE + 1)]


def reference_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursive, independent of the module."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def hexes(nodes: Sequence[bytes]) -> list[str]:
    return [n.hex() for n in nodes]


# --- hashing and published vectors ----------------------------------------------------------


def test_leaf_and_node_hashes_carry_the_rfc_6962_domain_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    assert leaf_hash(b"") != EMPTY_ROOT


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_the_root_of_the_first_n_ct_leaves_is_the_published_root(size: int) -> None:
    assert root_of(CT_HASHES[:size]).hex() == CT_ROOTS[size]


def test_the_empty_tree_has_the_hash_of_the_empty_string_as_its_root() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_the_inclusion_proof_of_a_ct_leaf_is_the_published_path_and_verifies(
    index: int, size: int, path: list[str]
) -> None:
    proof = inclusion_proof(CT_HASHES[:size], index)
    assert hexes(proof) == path
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(CT_HASHES[index], index, size, proof, root)


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_the_consistency_proof_between_ct_trees_is_the_published_path_and_verifies(
    first: int, second: int, path: list[str]
) -> None:
    proof = consistency_proof(CT_HASHES[:second], first)
    assert hexes(proof) == path
    old, new = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
    assert verify_consistency(first, second, old, new, proof)


def test_the_published_proofs_verify_as_given_without_our_prover() -> None:
    for index, size, path in CT_INCLUSION:
        nodes = [bytes.fromhex(h) for h in path]
        assert verify_inclusion(CT_HASHES[index], index, size, nodes, bytes.fromhex(CT_ROOTS[size]))
    for first, second, path in CT_CONSISTENCY:
        nodes = [bytes.fromhex(h) for h in path]
        old, new = bytes.fromhex(CT_ROOTS[first]), bytes.fromhex(CT_ROOTS[second])
        assert verify_consistency(first, second, old, new, nodes)


# --- every size up to 40 --------------------------------------------------------------------


def test_root_of_agrees_with_the_recursive_rfc_definition_for_every_size_up_to_40() -> None:
    for n in range(MAX_SIZE + 1):
        assert ROOTS[n] == reference_mth(LEAVES[:n]), n


def test_a_frontier_grown_leaf_by_leaf_has_the_root_of_every_prefix() -> None:
    frontier = Frontier()
    assert frontier.root() == reference_mth([])
    for n in range(1, MAX_SIZE + 1):
        frontier.append(LEAVES[n - 1])
        assert frontier.size == n
        assert len(frontier.nodes) == bin(n).count("1")
        assert frontier.root() == ROOTS[n] == reference_mth(LEAVES[:n]), n


def test_a_frontier_rebuilt_from_its_size_and_nodes_continues_the_same_tree() -> None:
    grown = Frontier()
    for leaf in LEAVES[:13]:
        grown.append(leaf)
    resumed = Frontier(grown.size, list(grown.nodes))
    for leaf in LEAVES[13:]:
        resumed.append(leaf)
    assert resumed.root() == ROOTS[MAX_SIZE]


def test_a_copied_frontier_grows_independently_of_the_original() -> None:
    original = Frontier()
    for leaf in LEAVES[:5]:
        original.append(leaf)
    copy = original.copy()
    copy.append(LEAVES[5])
    assert original.size == 5
    assert original.root() == ROOTS[5]
    assert copy.root() == ROOTS[6]


@pytest.mark.parametrize(("size", "count"), [(0, 1), (1, 0), (5, 1), (6, 3)])
def test_a_frontier_refuses_a_node_count_that_does_not_match_its_size(size: int, count: int) -> None:
    with pytest.raises(ValueError, match="one node per set bit"):
        Frontier(size, [bytes(32)] * count)


def test_every_inclusion_proof_verifies_for_every_size_up_to_40() -> None:
    for n in range(1, MAX_SIZE + 1):
        for i in range(n):
            proof = inclusion_proof(LEAVES[:n], i)
            assert verify_inclusion(LEAVES[i], i, n, proof, ROOTS[n]), (i, n)


def test_every_consistency_proof_verifies_for_every_pair_of_sizes_up_to_40() -> None:
    for n in range(1, MAX_SIZE + 1):
        for m in range(1, n + 1):
            proof = consistency_proof(LEAVES[:n], m)
            assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof), (m, n)


def test_an_inclusion_proof_of_an_index_outside_the_tree_cannot_be_made() -> None:
    with pytest.raises(IndexError):
        inclusion_proof(LEAVES[:4], 4)
    with pytest.raises(IndexError):
        inclusion_proof(LEAVES[:4], -1)


def test_a_consistency_proof_for_a_size_beyond_the_tree_cannot_be_made() -> None:
    with pytest.raises(IndexError):
        consistency_proof(LEAVES[:4], 5)


def test_a_consistency_proof_to_the_same_size_or_from_zero_is_empty() -> None:
    assert consistency_proof(LEAVES[:7], 7) == []
    assert consistency_proof(LEAVES[:7], 0) == []
    assert verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    assert not verify_consistency(7, 7, ROOTS[7], ROOTS[6], [])
    assert not verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[1]])
    assert verify_consistency(0, 7, EMPTY_ROOT, ROOTS[7], [])
    assert not verify_consistency(0, 7, ROOTS[1], ROOTS[7], [])


# --- mangled inclusion proofs ---------------------------------------------------------------


def all_inclusion_cases() -> list[tuple[int, int, list[bytes]]]:
    return [(i, n, inclusion_proof(LEAVES[:n], i)) for n in range(1, MAX_SIZE + 1) for i in range(n)]


def test_an_inclusion_proof_with_any_byte_of_any_node_flipped_is_rejected() -> None:
    for i, n, proof in all_inclusion_cases():
        for k in range(len(proof)):
            for at in (0, 31):
                mangled = [*proof[:k], flip(proof[k], at), *proof[k + 1 :]]
                assert not verify_inclusion(LEAVES[i], i, n, mangled, ROOTS[n]), (i, n, k, at)


def test_an_inclusion_proof_is_rejected_for_a_flipped_leaf_or_root() -> None:
    for i, n, proof in all_inclusion_cases():
        assert not verify_inclusion(flip(LEAVES[i]), i, n, proof, ROOTS[n])
        assert not verify_inclusion(LEAVES[i], i, n, proof, flip(ROOTS[n], 31))


def test_a_truncated_inclusion_proof_is_rejected() -> None:
    for i, n, proof in all_inclusion_cases():
        if proof:
            assert not verify_inclusion(LEAVES[i], i, n, proof[:-1], ROOTS[n]), (i, n)
            assert not verify_inclusion(LEAVES[i], i, n, proof[1:], ROOTS[n]), (i, n)


def test_an_extended_inclusion_proof_is_rejected() -> None:
    for i, n, proof in all_inclusion_cases():
        assert not verify_inclusion(LEAVES[i], i, n, [*proof, LEAVES[0]], ROOTS[n]), (i, n)
        assert not verify_inclusion(LEAVES[i], i, n, [LEAVES[0], *proof], ROOTS[n]), (i, n)


def test_an_inclusion_proof_is_rejected_for_another_leaf_index() -> None:
    for i, n, proof in all_inclusion_cases():
        for j in {i - 1, i + 1, n - 1 - i} - {i}:
            if 0 <= j < n:
                assert not verify_inclusion(LEAVES[i], j, n, proof, ROOTS[n]), (i, j, n)
        assert not verify_inclusion(LEAVES[i], n, n, proof, ROOTS[n])
        assert not verify_inclusion(LEAVES[i], -1, n, proof, ROOTS[n])


def test_an_inclusion_proof_is_rejected_against_the_root_of_another_tree_size() -> None:
    for i, n, proof in all_inclusion_cases():
        for m in (n - 1, n + 1, 2 * n):
            if i < m <= MAX_SIZE:
                assert not verify_inclusion(LEAVES[i], i, m, proof, ROOTS[m]), (i, n, m)


def test_an_inclusion_proof_with_a_node_of_the_wrong_length_is_rejected() -> None:
    proof = inclusion_proof(LEAVES[:8], 3)
    assert not verify_inclusion(LEAVES[3], 3, 8, [*proof[:2], proof[2] + b"\x00"], ROOTS[8])
    assert not verify_inclusion(LEAVES[3][:31], 3, 8, proof, ROOTS[8])
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)


# --- mangled consistency proofs -------------------------------------------------------------


def all_consistency_cases() -> list[tuple[int, int, list[bytes]]]:
    return [(m, n, consistency_proof(LEAVES[:n], m)) for n in range(2, MAX_SIZE + 1) for m in range(1, n)]


def test_a_consistency_proof_with_any_byte_of_any_node_flipped_is_rejected() -> None:
    for m, n, proof in all_consistency_cases():
        for k in range(len(proof)):
            mangled = [*proof[:k], flip(proof[k], k % 32), *proof[k + 1 :]]
            assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], mangled), (m, n, k)


def test_a_consistency_proof_is_rejected_for_a_flipped_old_or_new_root() -> None:
    for m, n, proof in all_consistency_cases():
        assert not verify_consistency(m, n, flip(ROOTS[m]), ROOTS[n], proof), (m, n)
        assert not verify_consistency(m, n, ROOTS[m], flip(ROOTS[n]), proof), (m, n)


def test_a_truncated_or_emptied_consistency_proof_is_rejected() -> None:
    for m, n, proof in all_consistency_cases():
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1]), (m, n)
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], []), (m, n)


def test_an_extended_consistency_proof_is_rejected() -> None:
    for m, n, proof in all_consistency_cases():
        assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], [*proof, LEAVES[0]]), (m, n)


def test_a_consistency_proof_is_rejected_between_the_roots_of_other_sizes() -> None:
    for m, n, proof in all_consistency_cases():
        for m2, n2 in ((m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1)):
            if 1 <= m2 < n2 <= MAX_SIZE and (m2, n2) != (m, n):
                assert not verify_consistency(m2, n2, ROOTS[m2], ROOTS[n2], proof), (m, n, m2, n2)


def test_a_consistency_proof_with_sizes_out_of_order_is_rejected() -> None:
    proof = consistency_proof(LEAVES[:8], 3)
    assert not verify_consistency(8, 3, ROOTS[8], ROOTS[3], proof)
    assert not verify_consistency(-1, 8, ROOTS[3], ROOTS[8], proof)


def test_a_consistency_proof_does_not_vouch_for_a_rewritten_history() -> None:
    rewritten = [*LEAVES[:3], leaf_hash(b"forged"), *LEAVES[4:10]]
    proof = consistency_proof(rewritten, 5)
    assert not verify_consistency(5, 10, ROOTS[5], root_of(rewritten), proof)
