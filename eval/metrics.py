"""Pure metric functions for grounded answers."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None (None if there are none)."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z=1.96); (0, 1) when n is 0.

    >>> [round(x, 3) for x in wilson_interval(0, 12)]
    [0.0, 0.243]
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    values: Sequence[float], resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (95% by default); seeded, so the same input gives the same interval.

    >>> bootstrap_interval([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    x = np.asarray([v for v in values if v is not None], dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def risk_coverage(scores: Sequence[float], correct: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(threshold, coverage, accuracy of the answered) as the abstention threshold sweeps the scores.

    A question is answered when its score is at least the threshold; `correct` says whether its answer
    would be right (an answered unanswerable question is wrong). One point per distinct score, highest first.

    >>> risk_coverage([0.9, 0.5, 0.2], [True, False, True])
    [(0.9, 0.3333333333333333, 1.0), (0.5, 0.6666666666666666, 0.5), (0.2, 1.0, 0.6666666666666666)]
    """
    if len(scores) != len(correct):
        raise ValueError("scores and correct must have the same length")
    pairs = sorted(zip(scores, correct, strict=True), key=lambda p: -p[0])
    n = len(pairs)
    out: list[tuple[float, float, float]] = []
    right = 0
    for i, (score, ok) in enumerate(pairs, 1):
        right += bool(ok)
        if i == n or pairs[i][0] != score:
            out.append((float(score), i / n, right / i))
    return out


def operating_point(scores: Sequence[float], correct: Sequence[bool], threshold: float) -> tuple[float, float | None]:
    """(coverage, accuracy of the answered) when the questions scoring at least `threshold` are answered."""
    answered = [ok for s, ok in zip(scores, correct, strict=True) if s >= threshold]
    n = len(scores)
    return (len(answered) / n if n else 0.0), (sum(answered) / len(answered) if answered else None)


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
        "citation_precision": mean(r.get("citation_precision") for r in records),
        "citation_recall": mean(r.get("citation_recall") for r in records),
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


# --- SQuAD 2.0 (the official evaluate-v2.0.py) -----------------------------------------------
_SQUAD_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def squad_normalize(s: str) -> str:
    """Lower case, ASCII punctuation and the articles a/an/the removed, single spaces (official SQuAD)."""
    s = "".join(ch for ch in s.lower() if ch not in _SQUAD_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", s).split())


def squad_tokens(s: str) -> list[str]:
    """The normalised answer's whitespace tokens (official SQuAD)."""
    return squad_normalize(s).split() if s else []


def _squad_golds(golds: Iterable[str]) -> list[str]:
    # As the official script: gold texts that normalise to nothing are dropped; none left means no-answer.
    return [g for g in golds if squad_normalize(g)] or [""]


def _squad_f1(prediction: str, gold: str) -> float:
    gold_toks, pred_toks = squad_tokens(gold), squad_tokens(prediction)
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)  # no-answer: 1 if both are empty, else 0
    same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    """Official SQuAD 2.0 exact match, max over gold answers; golds `[""]` (or `[]`) mean no answer."""
    pred = squad_normalize(prediction)
    return max(float(squad_normalize(g) == pred) for g in _squad_golds(golds))


def f1_score(prediction: str, golds: Iterable[str]) -> float:
    """Official SQuAD 2.0 token F1, max over gold answers; golds `[""]` (or `[]`) mean no answer."""
    return max(_squad_f1(prediction, g) for g in _squad_golds(golds))


# --- citation quality (ALCE, Gao et al. 2023) -------------------------------------------------
def alce_citation_scores(
    sentences: Sequence[tuple[str, Sequence[int]]],
    entails: Callable[[str, Sequence[int]], bool],
    *,
    passages: int | None = None,
    at_most_citations: int | None = 3,
) -> tuple[float, float]:
    """(citation recall, citation precision) of one answer, as `compute_autoais` in princeton-nlp/ALCE eval.py.

    `sentences` are (text without markers, cited passage numbers, 1-based); `entails(text, numbers)`
    says whether those passages together support the text. Recall: share of sentences their joint
    citations support. Precision: supported citations / all citations, where a citation of a
    multi-cited, supported sentence is an over-citation (not credited) when it alone does not
    support the sentence and the other citations do without it. As ALCE: a sentence citing a
    number outside 1..`passages` is unsupported and its citations are not counted; only the first
    `at_most_citations` of a sentence's citations are judged (ALCE's default: 3).
    """
    if not sentences:
        return 0.0, 0.0
    supported = precise = total = 0
    for text, numbers in sentences:
        refs = list(numbers)
        if not refs or (passages is not None and any(not 1 <= r <= passages for r in refs)):
            continue
        if at_most_citations is not None:
            refs = refs[:at_most_citations]
        total += len(refs)
        joint = bool(entails(text, refs))
        supported += joint
        if joint and len(refs) > 1:
            for i, ref in enumerate(refs):
                others = refs[:i] + refs[i + 1 :]
                precise += bool(entails(text, [ref])) or not entails(text, others)
        else:
            precise += joint
    return supported / len(sentences), (precise / total if total else 0.0)
