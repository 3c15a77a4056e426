"""Run a question set through the pipeline, score each answer and write reports.

grounded eval eval/data/demo_questions.jsonl --out runs/demo
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.dataset import EvalQuestion
from eval.metrics import contains_answer, sources_hit, summarize
from rag.pipeline import Pipeline
from rag.types import Answer


def score_answer(q: EvalQuestion, answer: Answer, latency_ms: float) -> dict[str, Any]:
    """One per-question record: the answer, whether it is right, and why."""
    cited_text = " ".join(c.chunk.text for c in answer.citations)
    top = answer.trace.fused.hits[: answer.trace.cutoff]
    passages = [h.chunk.source for h in top]
    correct = q.answerable and not answer.abstained and contains_answer(answer.text, q.answers)
    return {
        "id": q.id,
        "question": q.question,
        "answerable": q.answerable,
        "gold": list(q.answers),
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "correct": bool(correct) if q.answerable else answer.abstained,
        "citation_supported": bool(q.answerable and contains_answer(cited_text, q.answers)),
        "source_hit": bool(q.answerable and sources_hit(passages, q.sources)),
        "passage_hit": bool(q.answerable and any(contains_answer(h.chunk.text, q.answers) for h in top)),
        "citations": [
            {"n": c.n, "source": Path(c.chunk.source).name, "chunk_id": c.chunk.id} for c in answer.citations
        ],
        "evidence": answer.trace.generation.get("evidence"),
        "latency_ms": latency_ms,
    }


def run(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Answer every question; return per-question records and the summary."""
    records = []
    for i, q in enumerate(questions, 1):
        t0 = time.perf_counter()
        answer = pipeline.ask(q.question)
        records.append(score_answer(q, answer, (time.perf_counter() - t0) * 1000))
        if progress:
            progress(i, len(questions))
    summary = summarize(records)
    s = pipeline.settings
    summary["settings"] = {
        "generator": s.generator,
        "top_k": s.top_k,
        "candidates": s.candidates,
        "abstain_threshold": s.abstain_threshold,
        "embedding_model": s.embedding_model,
        "index": str(s.index),
    }
    return records, summary


def write_reports(out: Path, records: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    """`out/results.jsonl` (one record per question) and `out/summary.json`."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as aligned text lines."""

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:5.1f}%"

    return "\n".join(
        [
            f"questions            {summary['questions']} ({summary['answerable']} answerable, "
            f"{summary['unanswerable']} unanswerable)",
            f"answer accuracy      {pct(summary['answer_accuracy'])}",
            f"refusal accuracy     {pct(summary['refusal_accuracy'])}  (abstained on unanswerable)",
            f"false refusals       {pct(summary['false_refusal_rate'])}  (abstained on answerable)",
            f"citation support     {pct(summary['citation_support'])}  (cited passages contain the answer)",
            f"source recall@k      {pct(summary['source_recall_at_k'])}",
            f"passage recall@k     {pct(summary['passage_recall_at_k'])}  (a top-k passage contains the answer)",
            f"latency p50 / p95    {summary['latency_ms_p50']:.0f} / {summary['latency_ms_p95']:.0f} ms",
        ]
    )
