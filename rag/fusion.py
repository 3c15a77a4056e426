"""Reciprocal rank fusion of ranked lists (Cormack et al. 2009), weighted per list."""

from __future__ import annotations

from collections.abc import Sequence

from rag.types import Chunk, Hit, RankedList


def reciprocal_rank_fusion(
    lists: Sequence[RankedList], *, k: int = 60, weights: Sequence[float] | None = None, limit: int | None = None
) -> RankedList:
    """Fuse lists: score(chunk) = sum over lists of weight / (k + rank). Ties keep first-seen order."""
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError(f"{len(lists)} lists but {len(weights)} weights")
    scores: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for lst, w in zip(lists, weights, strict=True):
        for hit in lst.hits:
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + w / (k + hit.rank)
            chunks.setdefault(hit.chunk.id, hit.chunk)
    order = sorted(scores, key=lambda cid: -scores[cid])  # sorted() is stable
    if limit is not None:
        order = order[:limit]
    hits = tuple(Hit(chunks[cid], rank, scores[cid]) for rank, cid in enumerate(order, 1))
    detail = f"RRF k={k}, weights " + ", ".join(f"{lst.name}={w:g}" for lst, w in zip(lists, weights, strict=True))
    return RankedList("fused", hits, detail)
