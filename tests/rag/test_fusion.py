"""rag/fusion.py: weighted reciprocal rank fusion."""

from __future__ import annotations

import pytest

from rag.fusion import reciprocal_rank_fusion
from rag.types import Chunk, Hit, RankedList


def chunk(cid: str) -> Chunk:
    return Chunk(id=cid, source=f"/docs/{cid}.txt", start=0, end=len(cid), text=f"text of {cid}")


def ranked(name: str, ids: list[str]) -> RankedList:
    return RankedList(name, tuple(Hit(chunk(cid), rank, 1.0 / rank) for rank, cid in enumerate(ids, 1)))


def ids(lst: RankedList) -> list[str]:
    return [h.chunk.id for h in lst.hits]


def test_scores_are_sums_of_weight_over_k_plus_rank():
    dense = ranked("dense", ["a", "b", "c"])
    bm25 = ranked("bm25", ["b", "d"])
    fused = reciprocal_rank_fusion([dense, bm25], k=10)
    scores = {h.chunk.id: h.score for h in fused.hits}
    assert scores["a"] == pytest.approx(1 / 11)
    assert scores["b"] == pytest.approx(1 / 12 + 1 / 11)
    assert scores["c"] == pytest.approx(1 / 13)
    assert scores["d"] == pytest.approx(1 / 12)
    assert ids(fused) == ["b", "a", "d", "c"]
    assert [h.rank for h in fused.hits] == [1, 2, 3, 4]
    assert fused.name == "fused"


def test_default_k_is_60():
    fused = reciprocal_rank_fusion([ranked("dense", ["a"])])
    assert fused.hits[0].score == pytest.approx(1 / 61)
    assert "k=60" in fused.detail


def test_chunk_in_both_lists_outranks_chunks_in_one_list():
    dense = ranked("dense", ["a", "b", "c", "shared"])
    bm25 = ranked("bm25", ["x", "y", "z", "shared"])
    fused = reciprocal_rank_fusion([dense, bm25])
    assert ids(fused)[0] == "shared"
    assert fused.hits[0].score == pytest.approx(2 / 64)


def test_weights_change_the_order():
    dense = ranked("dense", ["a", "b"])
    bm25 = ranked("bm25", ["b", "a"])
    # Equal weights: a tie; stable sort keeps first-seen order (a from dense first).
    assert ids(reciprocal_rank_fusion([dense, bm25])) == ["a", "b"]
    assert ids(reciprocal_rank_fusion([dense, bm25], weights=[1.0, 3.0])) == ["b", "a"]
    assert ids(reciprocal_rank_fusion([dense, bm25], weights=[3.0, 1.0])) == ["a", "b"]


def test_weighted_scores_by_hand():
    dense = ranked("dense", ["a", "b"])
    bm25 = ranked("bm25", ["b", "a"])
    fused = reciprocal_rank_fusion([dense, bm25], k=1, weights=[2.0, 0.5])
    scores = {h.chunk.id: h.score for h in fused.hits}
    assert scores["a"] == pytest.approx(2.0 / 2 + 0.5 / 3)
    assert scores["b"] == pytest.approx(2.0 / 3 + 0.5 / 2)
    assert fused.detail == "RRF k=1, weights dense=2, bm25=0.5"


def test_zero_weight_list_contributes_nothing():
    dense = ranked("dense", ["a"])
    bm25 = ranked("bm25", ["b"])
    fused = reciprocal_rank_fusion([dense, bm25], weights=[1.0, 0.0])
    scores = {h.chunk.id: h.score for h in fused.hits}
    assert scores == {"a": pytest.approx(1 / 61), "b": 0.0}
    assert ids(fused) == ["a", "b"]


def test_limit_keeps_the_best_and_reranks_from_one():
    dense = ranked("dense", ["a", "b", "c", "d"])
    fused = reciprocal_rank_fusion([dense], limit=2)
    assert ids(fused) == ["a", "b"]
    assert [h.rank for h in fused.hits] == [1, 2]


def test_limit_larger_than_hits_keeps_all():
    fused = reciprocal_rank_fusion([ranked("dense", ["a", "b"])], limit=10)
    assert ids(fused) == ["a", "b"]


def test_limit_zero_gives_no_hits():
    assert reciprocal_rank_fusion([ranked("dense", ["a", "b"])], limit=0).hits == ()


@pytest.mark.parametrize("weights", [[1.0], [1.0, 1.0, 1.0], []])
def test_mismatched_weights_raise(weights):
    with pytest.raises(ValueError, match=r"2 lists but \d weights"):
        reciprocal_rank_fusion([ranked("dense", ["a"]), ranked("bm25", ["b"])], weights=weights)


def test_empty_lists():
    fused = reciprocal_rank_fusion([ranked("dense", []), ranked("bm25", [])])
    assert fused.hits == ()
    assert fused.name == "fused"


def test_no_lists_at_all():
    fused = reciprocal_rank_fusion([])
    assert fused.hits == ()


def test_fused_hits_keep_the_first_seen_chunk_object():
    c1 = Chunk(id="same", source="/docs/one.txt", start=0, end=4, text="one")
    c2 = Chunk(id="same", source="/docs/two.txt", start=0, end=4, text="two")
    dense = RankedList("dense", (Hit(c1, 1, 0.9),))
    bm25 = RankedList("bm25", (Hit(c2, 1, 5.0),))
    fused = reciprocal_rank_fusion([dense, bm25])
    assert len(fused.hits) == 1
    assert fused.hits[0].chunk.source == "/docs/one.txt"
    assert fused.hits[0].score == pytest.approx(2 / 61)
