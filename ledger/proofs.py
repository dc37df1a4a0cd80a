"""A consistency proof between two signed checkpoints, as the API serves it and a client checks it:
the older tree is a prefix of the newer one, both heads signed by the registry.

Pure: the same ``verify`` runs in the registry's tests, the Python client and an auditor's script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.checkpoint import Checkpoint
from ledger.errors import MalformedRecord
from ledger.merkle import verify_consistency

__all__ = ["ConsistencyProof"]

_HEX32 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 section 2.1.4 PROOF(first.tree_size, tree of second.tree_size), with both heads."""

    first: Checkpoint
    second: Checkpoint
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first.to_json(),
            "second": self.second.to_json(),
            "path": [p.hex() for p in self.path],
        }

    @classmethod
    def from_json(cls, obj: Any) -> ConsistencyProof:
        """Both checkpoints strictly (``Checkpoint.from_json``), the path as 64 lowercase hex each."""
        if not isinstance(obj, dict) or set(obj) != {"first", "second", "path"}:
            raise MalformedRecord("a consistency proof holds first, second and path", field="$")
        path = obj["path"]
        if not isinstance(path, list) or not all(isinstance(p, str) and _HEX32.fullmatch(p) for p in path):
            raise MalformedRecord("path must be a list of 64 lowercase hex digits each", field="path")
        return cls(
            Checkpoint.from_json(obj["first"]),
            Checkpoint.from_json(obj["second"]),
            tuple(bytes.fromhex(p) for p in path),
        )

    def problem(self, registry_keys: Iterable[bytes]) -> str | None:
        """Why this proof proves nothing, or None: each head is signed by one of ``registry_keys``
        (the one its key id names), the second is no smaller, and the path leads from the first
        root to the second."""
        keys = list(registry_keys)
        for name, cp in (("first", self.first), ("second", self.second)):
            if not any(cp.verifies_with(k) for k in keys):
                return f"the {name} checkpoint (size {cp.tree_size}) is not signed by a given registry key"
        a, b = self.first, self.second
        if a.tree_size > b.tree_size:
            return f"the first checkpoint ({a.tree_size}) is larger than the second ({b.tree_size})"
        if not verify_consistency(a.tree_size, b.tree_size, a.root, b.root, self.path):
            return f"the tree of size {a.tree_size} is not a prefix of the tree of size {b.tree_size}"
        return None
