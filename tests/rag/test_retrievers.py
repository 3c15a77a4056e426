"""GroundedRetriever and the stages under it: k, search_kwargs, metadata filters, scores in metadata.

All over the real demo-corpus index (Chroma + BM25) and the packaged MiniLM.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from rag.retrievers import GroundedRetriever, chroma_where

pytestmark = pytest.mark.slow

LECTURE = "Who gave the lecture at the Politburo study session on AI?"


def sources(pipeline: Any) -> list[str]:
    return sorted(pipeline.index.manifest.documents)


def test_k_zero_returns_no_document(pipeline) -> None:
    assert pipeline.as_retriever(k=0).invoke(LECTURE) == []
    assert pipeline.as_retriever().invoke(LECTURE, k=0) == []


def test_k_at_call_beats_search_kwargs_beats_construction(pipeline) -> None:
    retriever = pipeline.as_retriever(k=4, search_kwargs={"k": 3})
    assert len(pipeline.as_retriever(k=4).invoke(LECTURE)) == 4
    assert len(retriever.invoke(LECTURE)) == 3
    assert len(retriever.invoke(LECTURE, k=1)) == 1
    assert len(pipeline.as_retriever().invoke(LECTURE)) == pipeline.settings.top_k


def test_k_deeper_than_the_candidate_lists(pipeline) -> None:
    shallow = pipeline.with_settings(candidates=2, top_k=2)
    docs = shallow.as_retriever(k=7).invoke(LECTURE)
    assert len(docs) == 7
    assert len({d.id for d in docs}) == 7


def test_bad_options_say_what_is_accepted(pipeline) -> None:
    with pytest.raises(TypeError, match="takes k and filter"):
        pipeline.as_retriever().invoke(LECTURE, top_n=2)
    with pytest.raises(ValueError, match="0 or more"):
        pipeline.as_retriever(k=-1).invoke(LECTURE)


def test_source_filter_applies_to_dense_and_bm25(pipeline) -> None:
    shallow = pipeline.with_settings(candidates=3, top_k=3)
    plain = shallow.retrieve(LECTURE)
    bm25_plain = next(lst for lst in plain.lists if lst.name == "bm25")
    # A document BM25 ranks below the 3 candidates: the filtered list must read further down the ranking.
    top_sources = {h.chunk.source for h in bm25_plain.hits}
    other = next(s for s in sources(pipeline) if s not in top_sources)
    filtered = shallow.retrieve(LECTURE, where={"source": other})
    by_name = {lst.name: lst for lst in filtered.lists}
    assert set(by_name) == {"dense", "bm25"}
    for lst in filtered.lists:
        assert lst.hits, f"{lst.name} found nothing in {other}"
        assert {h.chunk.source for h in lst.hits} == {other}
        assert [h.rank for h in lst.hits] == list(range(1, len(lst.hits) + 1))
    assert len(by_name["bm25"].hits) == min(3, len(pipeline.index.manifest.documents[other].chunk_ids))
    scores = [h.score for h in by_name["bm25"].hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    docs = pipeline.as_retriever(k=3, filter={"source": other}).invoke(LECTURE)
    assert docs and {d.metadata["source"] for d in docs} == {other}


def test_in_filter_and_search_kwargs_filter(pipeline) -> None:
    two = sources(pipeline)[:2]
    docs = pipeline.as_retriever(k=6, search_kwargs={"filter": {"source": {"$in": two}}}).invoke(LECTURE)
    assert len(docs) == 6
    assert {d.metadata["source"] for d in docs} <= set(two)
    one = pipeline.as_retriever(k=6).invoke(LECTURE, filter={"source": two[1]})
    assert {d.metadata["source"] for d in one} == {two[1]}


def test_filter_matching_nothing_returns_nothing(pipeline) -> None:
    assert pipeline.as_retriever(filter={"source": "/no/such/file.txt"}).invoke(LECTURE) == []


def test_documents_carry_fused_and_per_list_scores(pipeline) -> None:
    docs = pipeline.as_retriever(k=5).invoke(LECTURE)
    retrieval = pipeline.retrieve(LECTURE)
    lists = {lst.name: {h.chunk.id: h for h in lst.hits} for lst in retrieval.lists}
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3, 4, 5]
    fused = [d.metadata["fused_score"] for d in docs]
    assert fused == sorted(fused, reverse=True)
    for doc in docs:
        meta = doc.metadata
        found_by = meta["found_by"].split(",")
        assert found_by and set(found_by) <= set(lists)
        expected = 0.0
        for name in found_by:
            hit = lists[name][doc.id]
            assert (meta[f"{name}_rank"], meta[f"{name}_score"]) == (hit.rank, pytest.approx(hit.score))
            expected += 1.0 / (pipeline.settings.rrf_k + hit.rank)  # RRF, both weights 1.0
        assert meta["score"] == pytest.approx(expected)
        assert -1.0 <= meta.get("dense_score", 0.0) <= 1.0
    assert any("bm25_score" in d.metadata for d in docs)


async def test_ainvoke_honours_k_and_filter(pipeline) -> None:
    src = sources(pipeline)[0]
    docs = await pipeline.as_retriever().ainvoke(LECTURE, k=2, filter={"source": src})
    assert len(docs) == 2 and {d.metadata["source"] for d in docs} == {src}


def test_retriever_is_a_langchain_retriever_by_construction(pipeline) -> None:
    retriever = GroundedRetriever(pipeline=pipeline, k=2, filter={"source": sources(pipeline)[2]})
    docs = retriever.batch([LECTURE, "Which university is Zheng Nanning from?"])
    assert [len(d) for d in docs] == [2, 2]
    assert Counter(d.metadata["source"] for ds in docs for d in ds) == {sources(pipeline)[2]: 4}


def test_chroma_where_joins_plain_fields() -> None:
    assert chroma_where(None) is None and chroma_where({}) is None
    assert chroma_where({"source": "a"}) == {"source": "a"}
    assert chroma_where({"source": "a", "title": "b"}) == {"$and": [{"source": "a"}, {"title": "b"}]}
    assert chroma_where({"$or": [{"source": "a"}, {"source": "b"}]}) == {"$or": [{"source": "a"}, {"source": "b"}]}
