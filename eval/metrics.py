"""Pure metric functions for grounded answers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from rag.text import normalize_answer


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether any gold answer appears in `text` (both normalised SQuAD-style)."""
    norm = f" {normalize_answer(text)} "
    for a in answers:
        gold = normalize_answer(a)
        if not gold:
            continue
        # CJK is written without spaces: match it as a substring, other scripts as whole words.
        if (any("\u4e00" <= ch <= "\u9fff" for ch in gold) and gold in norm) or f" {gold} " in norm:
            return True
    return False


def sources_hit(retrieved: Sequence[str], gold: Iterable[str]) -> bool:
    """Whether any retrieved source path ends with a gold file name."""
    names = {Path(g).name for g in gold}
    return any(Path(r).name in names for r in retrieved)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def summarize(records: Sequence[dict]) -> dict:
    """Summary metrics over per-question records (see eval.runner.score_answer)."""
    ans = [r for r in records if r["answerable"]]
    unans = [r for r in records if not r["answerable"]]
    answered = [r for r in ans if not r["abstained"]]
    lat = [r["latency_ms"] for r in records]
    return {
        "questions": len(records),
        "answerable": len(ans),
        "unanswerable": len(unans),
        "answer_accuracy": ratio(sum(r["correct"] for r in ans), len(ans)),
        "refusal_accuracy": ratio(sum(r["abstained"] for r in unans), len(unans)),
        "false_refusal_rate": ratio(sum(r["abstained"] for r in ans), len(ans)),
        "citation_support": ratio(sum(r["citation_supported"] for r in answered), len(answered)),
        "source_recall_at_k": ratio(sum(r["source_hit"] for r in ans), len(ans)),
        "passage_recall_at_k": ratio(sum(r.get("passage_hit", False) for r in ans), len(ans)),
        "overall_accuracy": ratio(sum(r["correct"] for r in ans) + sum(r["abstained"] for r in unans), len(records)),
        "latency_ms_p50": percentile(lat, 50),
        "latency_ms_p95": percentile(lat, 95),
    }


# --- ranked retrieval (BEIR) -----------------------------------------------------------------
def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG@k with linear gains (as trec_eval/pytrec_eval, which BEIR uses)."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    rel = {d for d, r in relevant.items() if r > 0}
    return len(rel & set(ranked[:k])) / len(rel) if rel else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document in the top k (0 if none)."""
    for i, d in enumerate(ranked[:k], 1):
        if relevant.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


RANKING_METRICS = {
    "ndcg@10": lambda r, q: ndcg_at_k(r, q, 10),
    "recall@10": lambda r, q: recall_at_k(r, q, 10),
    "recall@100": lambda r, q: recall_at_k(r, q, 100),
    "mrr@10": lambda r, q: mrr_at_k(r, q, 10),
}


def ranking_scores(ranked: Sequence[str], relevant: Mapping[str, int]) -> dict[str, float]:
    """Every ranking metric for one query."""
    return {name: fn(ranked, relevant) for name, fn in RANKING_METRICS.items()}
