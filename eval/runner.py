"""Run a question set through the pipeline, score each answer and write reports.

grounded eval eval/data/demo_questions.jsonl --out runs/demo
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from eval.dataset import EvalQuestion
from eval.metrics import alce_citation_scores, contains_answer, sources_hit, summarize
from rag.pipeline import Pipeline
from rag.types import Answer

Judge = Callable[[str, Sequence[str]], bool]
T = TypeVar("T")


def memo_judge(judge: Judge) -> Judge:
    """The judge with its verdicts remembered (the same sentence recurs under every policy)."""
    seen: dict[tuple[str, tuple[str, ...]], bool] = {}

    def cached(sentence: str, passages: Sequence[str]) -> bool:
        key = (sentence, tuple(passages))
        if key not in seen:
            seen[key] = bool(judge(sentence, list(passages)))
        return seen[key]

    return cached


def citation_scores(answer: Answer, judge: Judge) -> tuple[float, float] | None:
    """ALCE citation (recall, precision) of an answer's shown sentences; None when it abstained."""
    if answer.abstained or not answer.sentences:
        return None
    top = answer.trace.fused.hits[: answer.trace.cutoff]

    def entails(text: str, numbers: Sequence[int]) -> bool:
        return judge(text, [top[n - 1].chunk.text for n in numbers])

    return alce_citation_scores([(sc.text, sc.citations) for sc in answer.sentences], entails, passages=len(top))


def gold_found(text: str, answers: Sequence[str], all_answers: bool = False) -> bool:
    """Whether `text` holds the gold: any one answer, or with `all_answers` every one (lists, several parts).

    >>> gold_found("Ben Murphy translated it.", ["Ben Murphy", "April 28, 2025"], all_answers=True)
    False
    """
    if all_answers:
        return bool(answers) and all(contains_answer(text, [a]) for a in answers)
    return contains_answer(text, answers)


def score_answer(q: EvalQuestion, answer: Answer, latency_ms: float, judge: Judge | None = None) -> dict[str, Any]:
    """One per-question record: the answer, whether it is right, and why.

    Right means: answered and holding a gold answer (every gold answer when the question has `all_answers`).
    """
    cited_text = " ".join(c.chunk.text for c in answer.citations)
    top = answer.trace.fused.hits[: answer.trace.cutoff]
    alce = citation_scores(answer, judge) if judge else None
    passages = [h.chunk.source for h in top]
    every = q.all_answers
    correct = q.answerable and not answer.abstained and gold_found(answer.text, q.answers, every)
    if every:  # the parts may come from different passages: the top passages together must hold them all
        passage_hit = gold_found(" ".join(h.chunk.text for h in top), q.answers, every)
    else:
        passage_hit = any(contains_answer(h.chunk.text, q.answers) for h in top)
    return {
        "id": q.id,
        "question": q.question,
        "answerable": q.answerable,
        "gold": list(q.answers),
        "all_answers": every,
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "correct": bool(correct) if q.answerable else answer.abstained,
        "citation_supported": bool(q.answerable and gold_found(cited_text, q.answers, every)),
        "source_hit": bool(q.answerable and sources_hit(passages, q.sources)),
        "passage_hit": bool(q.answerable and passage_hit),
        "citations": [
            {"n": c.n, "source": Path(c.chunk.source).name, "chunk_id": c.chunk.id} for c in answer.citations
        ],
        "evidence": answer.trace.generation.get("evidence"),
        "generator": answer.generator,
        "answered_by": answer.answered_by,
        "policy": answer.policy,
        "sentences": [sc.to_dict() for sc in answer.sentences],
        "citation_recall": None if alce is None else alce[0],
        "citation_precision": None if alce is None else alce[1],
        "latency_ms": latency_ms,
    }


def abstention_score(answer: Answer) -> float | None:
    """The score the abstention threshold is compared with (extractive: the best evidence); None if there is none."""
    value = answer.trace.generation.get("evidence")
    return float(value) if isinstance(value, int | float) else None


def correct_if_answered(record: dict[str, Any], answer: Answer) -> bool | None:
    """Whether the answer would be right if it were given (for the risk-coverage curve).

    Answered: its text contains a gold answer. Abstained: the best extractive candidate (what a lower
    threshold would quote) contains one. An unanswerable question is never right to answer. None when
    the record says neither whether the question is answerable nor its gold answers.
    """
    answerable = record.get("answerable", record.get("has_answer"))
    gold = record.get("gold")
    if answerable is None or gold is None:
        return None
    if not answerable:
        return False
    every = bool(record.get("all_answers"))
    if not answer.abstained:
        return gold_found(answer.text, gold, every)
    cands = answer.trace.generation.get("candidates") or []
    return bool(cands) and gold_found(str(cands[0].get("text", "")), gold, every)


def with_trace(record: dict[str, Any], item: Any, answer: Answer) -> dict[str, Any]:
    """The record with the run-folder fields (notes/ISSUE11.md): type, score, timings, trace, correct_if_answered."""
    kind = getattr(item, "type", None)
    if kind:
        record.setdefault("type", kind)
    record.setdefault("score", abstention_score(answer))
    record.setdefault("correct_if_answered", correct_if_answered(record, answer))
    record.setdefault("timings", {k: round(v, 1) for k, v in answer.timings_ms.items()})
    record.setdefault("trace", answer.trace.to_dict())
    return record


def answer_under_policies(
    pipeline: Pipeline,
    questions: Sequence[str],
    policies: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[dict[str, tuple[Answer, float]]]:
    """Per question, {policy: (answer, latency ms)}: retrieval and generation run once (`pipeline.draft`),
    each policy only re-checks (`pipeline.finish`), so policies are compared on the very same model output."""
    for i, question in enumerate(questions, 1):
        t0 = time.perf_counter()
        draft = pipeline.draft(question)
        draft_ms = (time.perf_counter() - t0) * 1000
        out = {}
        for policy in policies:
            t1 = time.perf_counter()
            answer = pipeline.finish(draft, policy)
            out[policy] = (answer, draft_ms + (time.perf_counter() - t1) * 1000)
        yield out
        if progress:
            progress(i, len(questions))


def score_under_policies(
    pipeline: Pipeline,
    items: Sequence[T],
    question: Callable[[T], str],
    score: Callable[[T, Answer, float, Judge], dict[str, Any]],
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]],
    policies: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    judge: str = "self",
) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """{policy: (records, summary)}: each item answered once, checked under each policy, scored and summarised.

    The citation judge is chosen by name (eval.judges: "self" = `pipeline.verifier.supports`, "llm",
    "local"); its verdicts are remembered across policies and the summary records which judged.
    """
    from eval.judges import load_judge

    policies = list(policies or [pipeline.settings.verify_policy])
    citation_judge = load_judge(judge, pipeline)
    records: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    answers = answer_under_policies(pipeline, [question(x) for x in items], policies, progress)
    for item, by_policy in zip(items, answers, strict=True):
        for policy, (answer, latency) in by_policy.items():
            records[policy].append(with_trace(score(item, answer, latency, citation_judge), item, answer))
    out = {}
    for policy, recs in records.items():
        summary = summarize(recs)
        summary.update(citation_judge.record())  # "judge": "self", "judge_label": "self-judged", …
        summary["policy"] = policy
        summary["settings"] = settings_record(pipeline, policy)
        out[policy] = (recs, summary)
    return out


def run(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    progress: Callable[[int, int], None] | None = None,
    policies: Sequence[str] | None = None,
    judge: str = "self",
) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Answer every question once and check it under each policy; {policy: (records, summary)}."""
    return score_under_policies(
        pipeline, questions, lambda q: q.question, score_answer, summarize, policies, progress, judge
    )


def settings_record(pipeline: Pipeline, policy: str) -> dict[str, Any]:
    """The settings a run's summary records, so runs can be compared."""
    s = pipeline.settings
    return {
        "generator": s.generator,
        "policy": policy,
        "top_k": s.top_k,
        "candidates": s.candidates,
        "abstain_threshold": s.abstain_threshold,
        "support_threshold": s.support_threshold,
        "relevance_threshold": s.relevance_threshold,
        "llm_max_tokens": s.llm_max_tokens,
        "embedding_model": s.embedding_model,
        "index": str(s.index),
    }


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
            f"citation precision   {pct(summary['citation_precision'])}  (ALCE: each citation needed and supporting;"
            f" {summary.get('judge_label', 'self-judged')})",
            f"citation recall      {pct(summary['citation_recall'])}  (ALCE: each sentence supported by its citations;"
            f" {summary.get('judge_label', 'self-judged')})",
            f"source recall@k      {pct(summary['source_recall_at_k'])}",
            f"passage recall@k     {pct(summary['passage_recall_at_k'])}  (a top-k passage contains the answer)",
            f"latency p50 / p95    {summary['latency_ms_p50']:.0f} / {summary['latency_ms_p95']:.0f} ms",
        ]
    )
