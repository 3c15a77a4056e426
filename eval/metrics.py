"""Pure metric functions for grounded answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
        "overall_accuracy": ratio(sum(r["correct"] for r in ans) + sum(r["abstained"] for r in unans), len(records)),
        "latency_ms_p50": percentile(lat, 50),
        "latency_ms_p95": percentile(lat, 95),
    }
