"""rag/types.py: chunk ids, the Document round trip and the JSON forms."""

from __future__ import annotations

import json

import pytest
from langchain_core.documents import Document

from rag.types import Answer, Chunk, Citation, Hit, RankedList, SentenceCheck, Trace, chunk_id, content_hash

ANSWER_KEYS = {
    "question",
    "answer",
    "abstained",
    "reason",
    "citations",
    "sentences",
    "generator",
    "answered_by",
    "query",
    "analysis",
    "policy",
    "timings_ms",
}
TRACE_KEYS = {
    "question",
    "rewrite",
    "query",
    "lists",
    "fused",
    "cutoff",
    "generator",
    "generation",
    "verification",
    "analysis",
    "spelling",
}


def make_chunk(**kw) -> Chunk:
    base = dict(
        id=chunk_id("/corpus/a.txt", "Zheng Nanning gave the lecture."),
        source="/corpus/a.txt",
        start=120,
        end=151,
        text="Zheng Nanning gave the lecture.",
        metadata={"title": "Readout", "chunk_index": 3},
    )
    base.update(kw)
    return Chunk(**base)


def make_answer(citations=(), timings=None) -> Answer:
    c = make_chunk()
    fused = RankedList("fused", (Hit(c, 1, 0.0328),), "RRF k=60")
    trace = Trace(
        question="Who gave the lecture?",
        query="Who gave the lecture?",
        lists=(RankedList("dense", (Hit(c, 1, 0.8),)),),
        fused=fused,
        cutoff=1,
        generator="extractive",
        generation={"decision": "answer"},
    )
    return Answer(
        question="Who gave the lecture?",
        text="Zheng Nanning gave the lecture. [1]",
        abstained=False,
        reason="evidence 0.700 ≥ threshold 0.390",
        citations=tuple(citations),
        timings_ms=timings if timings is not None else {"retrieve": 12.345, "generate": 3.21},
        trace=trace,
    )


# --- chunk ids ---------------------------------------------------------------------------------


def test_content_hash_is_sha256_hex():
    assert content_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_chunk_id_is_deterministic_and_32_hex_chars():
    a = chunk_id("/corpus/a.txt", "some text", 0)
    assert a == chunk_id("/corpus/a.txt", "some text", 0)
    assert len(a) == 32
    int(a, 16)  # hex
    assert a == content_hash("/corpus/a.txt\x000\x00some text")[:32]


def test_chunk_id_default_occurrence_is_zero():
    assert chunk_id("s", "t") == chunk_id("s", "t", 0)


@pytest.mark.parametrize(
    "other",
    [
        ("/corpus/b.txt", "some text", 0),
        ("/corpus/a.txt", "some text!", 0),
        ("/corpus/a.txt", "some text", 1),
    ],
)
def test_chunk_id_changes_with_source_text_and_occurrence(other):
    assert chunk_id(*other) != chunk_id("/corpus/a.txt", "some text", 0)


def test_chunk_id_fields_cannot_run_together():
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert chunk_id("ab", "c") != chunk_id("a", "bc")


# --- Chunk <-> Document -------------------------------------------------------------------------


def test_to_document_carries_everything():
    c = make_chunk()
    doc = c.to_document()
    assert isinstance(doc, Document)
    assert doc.id == c.id
    assert doc.page_content == c.text
    expected = {"title": "Readout", "chunk_index": 3, "source": "/corpus/a.txt", "start": 120, "end": 151}
    assert doc.metadata == expected


def test_document_round_trip():
    c = make_chunk()
    back = Chunk.from_document(c.to_document())
    assert back == c
    assert (back.id, back.source, back.start, back.end, back.text) == (c.id, c.source, c.start, c.end, c.text)
    assert back.metadata == {"title": "Readout", "chunk_index": 3}


def test_to_document_does_not_mutate_metadata():
    c = make_chunk()
    c.to_document()
    assert c.metadata == {"title": "Readout", "chunk_index": 3}


def test_from_document_casts_offsets_and_prefers_explicit_id():
    doc = Document(page_content="x", metadata={"source": "s.txt", "start": "5", "end": 6.0}, id="stored")
    c = Chunk.from_document(doc, id="given")
    assert (c.id, c.start, c.end, c.metadata) == ("given", 5, 6, {})
    assert Chunk.from_document(doc).id == "stored"


def test_from_document_without_id_raises():
    doc = Document(page_content="x", metadata={"source": "s.txt", "start": 0, "end": 1})
    with pytest.raises(ValueError, match="no id"):
        Chunk.from_document(doc)


def test_chunk_equality_ignores_metadata_and_name_is_file_name():
    assert make_chunk(metadata={}) == make_chunk(metadata={"other": 1})
    assert make_chunk().name == "a.txt"


# --- JSON forms --------------------------------------------------------------------------------


def test_citation_to_dict():
    c = make_chunk()
    d = Citation(n=2, chunk=c, score=0.12345678, spans=((120, 151),)).to_dict()
    assert {"n", "source", "chunk_id", "start", "end", "text", "score"} <= set(d)
    assert d == {
        "n": 2,
        "source": "/corpus/a.txt",
        "label": "a.txt — Readout",  # Chunk.label: file, then title
        "chunk_id": c.id,
        "start": 120,
        "end": 151,
        "text": "Zheng Nanning gave the lecture.",
        "score": 0.123457,
        "spans": [[120, 151]],
        "title": "Readout",  # title, section and page travel with the citation when the chunk has them
    }


def test_answer_to_dict_keys_without_trace():
    d = make_answer().to_dict()
    assert set(d) == ANSWER_KEYS
    assert d["answer"] == "Zheng Nanning gave the lecture. [1]"
    assert d["generator"] == "extractive"
    assert d["abstained"] is False
    assert d["timings_ms"] == {"retrieve": 12.3, "generate": 3.2}
    assert d["citations"] == []
    assert d["sentences"] == [] and d["policy"] == ""
    assert d["answered_by"] == "extractive"  # falls back to the generator
    assert d["query"] == "Who gave the lecture?"


def test_answer_to_dict_with_trace():
    cit = Citation(n=1, chunk=make_chunk(), score=0.7)
    d = make_answer(citations=[cit]).to_dict(include_trace=True)
    assert set(d) == ANSWER_KEYS | {"trace"}
    assert set(d["trace"]) == TRACE_KEYS
    assert d["trace"]["rewrite"] == {} and d["trace"]["verification"] == {}
    assert d["trace"]["cutoff"] == 1
    assert d["trace"]["fused"]["hits"][0]["rank"] == 1
    assert d["trace"]["lists"][0]["name"] == "dense"
    assert d["citations"][0]["n"] == 1
    json.dumps(d)  # plain JSON, nothing exotic


def test_answer_to_dict_sentences_policy_and_answered_by():
    check = SentenceCheck("Zheng Nanning gave the lecture.", (1,), 0.91234, 0.5, "supported", (1,), {1: (0, 31)})
    base = make_answer()
    answer = Answer(
        question=base.question,
        text=base.text,
        abstained=False,
        reason=base.reason,
        citations=(),
        timings_ms={},
        trace=base.trace,
        sentences=(check,),
        policy="strict",
        answered_by="local",
    )
    d = answer.to_dict()
    assert d["policy"] == "strict" and d["answered_by"] == "local" and d["generator"] == "extractive"
    assert d["sentences"] == [
        {
            "text": "Zheng Nanning gave the lecture.",
            "citations": [1],
            "supported": True,
            "support": 0.9123,
            "status": "supported",
            "relevance": 0.5,
            "cited_by_model": [1],
            "spans": {"1": [0, 31]},
            "note": "",
        }
    ]
    json.dumps(d)


def test_hit_preview_is_flattened_and_truncated():
    long = make_chunk(text="word\n" * 100)
    d = Hit(long, 1, 0.5).to_dict()
    assert len(d["preview"]) == 160
    assert d["preview"].endswith("…")
    assert "\n" not in d["preview"]
