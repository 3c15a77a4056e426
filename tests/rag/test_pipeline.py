"""The whole pipeline on the demo corpus: real Chroma, real BM25, real MiniLM."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableLambda

from rag.errors import QuestionError
from rag.explain import explain
from tests.rag.test_types import ANSWER_KEYS

pytestmark = pytest.mark.slow

LECTURE = "Who gave the lecture at the Politburo study session on AI?"


def test_answers_with_citations_at_real_offsets(pipeline) -> None:
    answer = pipeline.ask(LECTURE)
    assert not answer.abstained
    assert "Zheng Nanning" in answer.text
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations}
    for c in answer.citations:
        source_text = Path(c.chunk.source).read_text(encoding="utf-8")
        assert source_text[c.chunk.start : c.chunk.end] == c.chunk.text
        for s, e in c.spans:
            assert c.chunk.start <= s < e <= c.chunk.end
            assert source_text[s:e] in answer.text


@pytest.mark.parametrize(
    "question",
    ["What is the boiling point of ethanol?", "Who won the 2018 FIFA World Cup?", "How do I bake sourdough bread?"],
)
def test_abstains_off_topic(pipeline, question: str) -> None:
    answer = pipeline.ask(question)
    assert answer.abstained
    assert answer.text.startswith("The documents don't say")
    assert answer.citations == ()
    assert "below the threshold" in answer.reason


def test_json_contract(pipeline) -> None:
    data = json.loads(json.dumps(pipeline.ask(LECTURE).to_dict()))
    assert set(data) == ANSWER_KEYS
    assert data["question"] == LECTURE and data["abstained"] is False and data["generator"] == "extractive"
    assert data["answered_by"] == "extractive" and data["query"] == LECTURE and data["policy"] == "strict"
    assert data["sentences"] and all(s["supported"] and s["citations"] for s in data["sentences"])
    assert data["citations"]
    for c in data["citations"]:
        assert {"n", "source", "chunk_id", "start", "end", "text", "score"} <= set(c)
        assert c["source"].endswith(".txt") and Path(c["source"]).name.startswith(("000_", "001_", "002_", "003_"))
        assert isinstance(c["n"], int) and f"[{c['n']}]" in data["answer"]
    assert {"embed_query", "dense", "bm25", "fuse", "generate", "total"} <= set(data["timings_ms"])


def test_trace_and_explain_show_every_stage(pipeline) -> None:
    answer = pipeline.ask(LECTURE)
    trace = answer.to_dict(include_trace=True)["trace"]
    assert [lst["name"] for lst in trace["lists"]] == ["dense", "bm25"]
    assert all(lst["hits"] for lst in trace["lists"])
    assert trace["cutoff"] == pipeline.settings.top_k
    assert trace["generation"]["candidates"] and trace["generation"]["decision"] == "answer"
    text = explain(answer)
    for needle in ("dense", "bm25", "fused", "cut-off", "threshold", "candidate sentences"):
        assert needle in text


def test_empty_question(pipeline) -> None:
    with pytest.raises(QuestionError, match="empty question"):
        pipeline.ask("   ")


def test_langchain_retriever_in_a_chain(pipeline) -> None:
    chain = pipeline.as_retriever(k=3) | RunnableLambda(lambda docs: [d.metadata["source"] for d in docs])
    sources = chain.invoke("Which university is Zheng Nanning from?")
    assert len(sources) == 3
    assert any(Path(s).name in {"000_eb440050df25cd3d.txt", "002_051ad646e9f7dedc.txt"} for s in sources)


def test_top_k_override_changes_cutoff(pipeline) -> None:
    answer = pipeline.with_settings(top_k=2).ask(LECTURE)
    assert answer.trace.cutoff == 2
    assert all(c.n <= 2 for c in answer.citations)


def test_dense_scores_are_cosine_similarities_best_first(pipeline) -> None:

    retrieval = pipeline.retrieve(LECTURE)
    dense = retrieval.lists[0]
    scores = [h.score for h in dense.hits]
    assert scores == sorted(scores, reverse=True)
    top = dense.hits[0].chunk
    from rag.index import embed_text

    vec = pipeline.embeddings.encode([embed_text(top)])[0]  # what was embedded: heading, then the text
    # ingest encodes in bfloat16 where the CPU has it (embed_precision=auto): a few thousandths of rounding
    assert dense.hits[0].score == pytest.approx(float(vec @ retrieval.query.embedding), abs=3e-3)
