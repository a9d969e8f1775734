"""RFC 9162 Merkle hashing: roots, inclusion and consistency proofs agree with the RFC's recursive
definitions (written out naively here) for every tree size up to 20, and with published vectors."""

from __future__ import annotations

import hashlib

import pytest

from core import merkle

# The test leaves of the Certificate Transparency reference implementations and their roots.
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 2.1.1 writes it."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _k(len(leaves))
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 2.1.3.1."""
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if b else [naive_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, leaves[:k], b), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def _leaves(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


def _hashes(leaves: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(leaf) for leaf in leaves]


def test_the_empty_tree_hashes_to_the_hash_of_nothing():
    assert merkle.root_from_leaf_hashes([]).hex() == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_the_certificate_transparency_vectors(n):
    assert merkle.root_from_leaf_hashes(_hashes(CT_LEAVES[:n])).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize("n", range(1, 21))
def test_roots_match_the_recursive_definition(n):
    leaves = _leaves(n)
    assert merkle.root_from_leaf_hashes(_hashes(leaves)) == naive_mth(leaves)


@pytest.mark.parametrize("n", range(1, 21))
def test_every_inclusion_proof_matches_the_rfc_and_verifies(n):
    leaves = _leaves(n)
    hashes = _hashes(leaves)
    root = naive_mth(leaves)
    for m in range(n):
        path = merkle.inclusion_proof(hashes, m)
        assert path == naive_path(m, leaves)
        assert merkle.verify_inclusion(hashes[m], m, n, path, root)


def test_an_inclusion_proof_fails_for_another_leaf_index_or_a_changed_node():
    hashes = _hashes(_leaves(11))
    root = merkle.root_from_leaf_hashes(hashes)
    path = merkle.inclusion_proof(hashes, 6)

    assert not merkle.verify_inclusion(hashes[6], 5, 11, path, root)
    assert not merkle.verify_inclusion(hashes[5], 6, 11, path, root)
    assert not merkle.verify_inclusion(hashes[6], 6, 8, path, root)
    assert not merkle.verify_inclusion(hashes[6], 6, 11, [*path[:-1], b"\x00" * 32], root)
    assert not merkle.verify_inclusion(hashes[6], 11, 11, path, root)


@pytest.mark.parametrize("n", range(1, 17))
def test_every_consistency_proof_matches_the_rfc_and_verifies(n):
    leaves = _leaves(n)
    hashes = _hashes(leaves)
    for m in range(1, n + 1):
        proof = merkle.consistency_proof(hashes, m)
        assert proof == naive_subproof(m, leaves, True)
        assert merkle.verify_consistency(m, n, naive_mth(leaves[:m]), naive_mth(leaves), proof)


def test_a_consistency_proof_fails_when_the_old_tree_was_rewritten():
    leaves = _leaves(13)
    hashes = _hashes(leaves)
    forged_old_root = naive_mth([b"forged", *leaves[1:7]])
    proof = merkle.consistency_proof(hashes, 7)

    assert not merkle.verify_consistency(7, 13, forged_old_root, naive_mth(leaves), proof)
    assert not merkle.verify_consistency(7, 13, naive_mth(leaves[:7]), naive_mth(leaves), [])
