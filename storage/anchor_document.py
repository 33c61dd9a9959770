"""The anchor file's content: its format, each chain's entry, and its signature.

``{"format": 1, "databases": {<database>: {<chain>: {"count", "hash", "pending":
{"count", "hash", "xact"}, "ordered_from"}}}, "mac": <HMAC-SHA256>}``: the MAC covers
the canonical JSON of everything else (storage/chain_anchor.py keeps the file).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from core.log_records import AnchoredChain, ChainHead

FORMAT = 1
_MAC_CONTEXT = b"face-kiosk chain anchor 1\n"
_HEX_HASH = re.compile(r"^[0-9a-f]{64}$")


class AnchorUntrusted(Exception):
    """The anchor's files are missing, not ours, or fail their signature."""


def new_document() -> dict[str, Any]:
    return {"format": FORMAT, "databases": {}}


def entry_of(anchored: AnchoredChain) -> dict[str, Any]:
    entry: dict[str, Any] = {"count": anchored.committed.count, "hash": anchored.committed.hash}
    if anchored.pending is not None:
        entry["pending"] = {
            "count": anchored.pending.count,
            "hash": anchored.pending.hash,
            "xact": anchored.pending_xact,
        }
    if anchored.ordered_from:
        entry["ordered_from"] = anchored.ordered_from
    return entry


def chains_of(entry: object) -> dict[str, AnchoredChain]:
    if not isinstance(entry, dict):
        raise AnchorUntrusted("the anchored heads of this database are malformed")
    chains = {}
    for chain, anchored in entry.items():
        if not isinstance(anchored, dict):
            raise AnchorUntrusted(f"the anchored head of the {chain} chain is malformed")
        pending = anchored.get("pending")
        ordered_from = anchored.get("ordered_from", 0)
        xact = pending.get("xact") if isinstance(pending, dict) else None
        if (
            not isinstance(ordered_from, int)
            or ordered_from < 0
            or not (xact is None or (isinstance(xact, int) and xact > 0))
        ):
            raise AnchorUntrusted(f"the anchored head of the {chain} chain is malformed")
        chains[chain] = AnchoredChain(
            _head(chain, anchored),
            _head(chain, pending) if pending is not None else None,
            xact,
            ordered_from,
        )
    return chains


def _head(chain: str, head: object) -> ChainHead:
    if not (
        isinstance(head, dict)
        and isinstance(head.get("count"), int)
        and head["count"] >= 0
        and isinstance(head.get("hash"), str)
        and _HEX_HASH.match(head["hash"])
    ):
        raise AnchorUntrusted(f"the anchored head of the {chain} chain is malformed")
    return ChainHead(head["count"], head["hash"])


def mac(key: bytes, document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, _MAC_CONTEXT + canonical, hashlib.sha256).hexdigest()
