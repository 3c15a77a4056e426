"""SQuAD 2.0 through the whole pipeline: official EM/F1, abstention, and ALCE citation quality.

The corpus is the sample's own paragraphs (one document each, `squad/<article>-<paragraph>.txt`),
indexed once into a cache folder. Each question is drafted once (retrieval and generation) and
finished under every verification policy, so the policies are compared on the same drafts.
Unanswerable questions (`is_impossible`) are scored against the empty answer: abstaining is right.

    ../shared/bench/squad2_cs224n/dev-v2.0.json  (16 articles, 6,078 questions, 3,168 unanswerable)
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs

from eval.metrics import (
    contains_answer,
    exact_match,
    f1_score,
    mean,
    percentile,
    ratio,
)
from eval.runner import Judge, citation_scores, score_under_policies
from eval.runner import write_reports as write_policy_reports
from ingest.loaders import LoadedDocument
from rag.errors import DatasetError
from rag.settings import Settings
from rag.verify import POLICIES, strip_markers

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

Part = Literal["test", "calib"]


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD 2.0 question with its deduplicated gold answers and the paragraph it was asked about."""

    id: str
    question: str
    answers: tuple[str, ...]
    is_impossible: bool
    title: str
    paragraph_id: str
    context: str


# --- loading and sampling ---------------------------------------------------------------------
def _not_squad(path: Path, what: str) -> DatasetError:
    return DatasetError(
        f"{path}: {what}: give an official SQuAD 2.0 JSON file with answers, "
        '{"version": "v2.0", "data": [{"title", "paragraphs": [{"context", "qas"}]}]} (e.g. dev-v2.0.json)'
    )


def load_squad(path: Path) -> list[SquadQuestion]:
    """Every question of an official SQuAD 2.0 JSON file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"no SQuAD file at {path}: give the path of a SQuAD 2.0 JSON file such as "
            "../shared/bench/squad2_cs224n/dev-v2.0.json"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _not_squad(path, f"not valid JSON ({e.msg}, line {e.lineno})") from None
    except UnicodeDecodeError:
        raise _not_squad(path, "not UTF-8 text") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise _not_squad(path, 'no "data" list')
    questions: list[SquadQuestion] = []
    try:
        for a, article in enumerate(raw["data"]):
            title = str(article["title"])
            for p, para in enumerate(article["paragraphs"]):
                context = str(para["context"])
                for qa in para["qas"]:
                    qid = str(qa["id"])
                    if "is_impossible" not in qa:
                        raise _not_squad(
                            path,
                            f"question {qid} has no is_impossible flag (SQuAD 1.1, or a test file without answers)",
                        )
                    impossible = bool(qa["is_impossible"])
                    answers = tuple(dict.fromkeys(str(x["text"]) for x in qa.get("answers") or []))
                    if not impossible and not answers:
                        raise _not_squad(path, f"question {qid} is answerable but has no answers")
                    questions.append(
                        SquadQuestion(
                            id=qid,
                            question=str(qa["question"]),
                            answers=() if impossible else answers,
                            is_impossible=impossible,
                            title=title,
                            paragraph_id=f"{a:03d}-{p:03d}",
                            context=context,
                        )
                    )
    except (KeyError, TypeError) as e:
        raise _not_squad(path, f"unexpected structure ({e.__class__.__name__}: {e})") from None
    if not questions:
        raise _not_squad(path, "no questions")
    return questions


def sample_questions(
    questions: Sequence[SquadQuestion], n: int = 500, seed: int = 0, part: Part = "test"
) -> list[SquadQuestion]:
    """A fixed sample: sorted by id, shuffled with `seed`; "test" is the first n, "calib" the next n (disjoint)."""
    if part not in ("test", "calib"):
        raise DatasetError(f"unknown sample part {part!r}: choose 'test' or 'calib'")
    if n < 1:
        raise DatasetError(f"sample size {n} is too small: give n >= 1")
    need = n if part == "test" else 2 * n
    if len(questions) < need:
        raise DatasetError(
            f"{len(questions)} questions are too few for a {part} sample of {n} (needs {need}): give a smaller n"
        )
    ordered = sorted(questions, key=lambda q: q.id)
    random.Random(seed).shuffle(ordered)
    return ordered[:n] if part == "test" else ordered[n : 2 * n]


# --- the corpus and its index -----------------------------------------------------------------
def paragraph_source(paragraph_id: str) -> str:
    """The index key (chunk source) of a paragraph's document."""
    return f"squad/{paragraph_id}.txt"


def paragraph_documents(questions: Iterable[SquadQuestion]) -> list[LoadedDocument]:
    """One document per distinct paragraph of the questions, in paragraph order, titled by its article."""
    paragraphs: dict[str, SquadQuestion] = {}
    for q in questions:
        paragraphs.setdefault(q.paragraph_id, q)
    return [
        LoadedDocument(
            Path(paragraph_source(pid)),
            q.context,
            {"format": "squad", **({"title": q.title.replace("_", " ")} if q.title else {})},
        )
        for pid, q in sorted(paragraphs.items())
    ]


def corpus_key(questions: Iterable[SquadQuestion]) -> str:
    """Short hash of the sample's distinct paragraph ids (names the cached index)."""
    pids = sorted({q.paragraph_id for q in questions})
    return hashlib.sha256("\n".join(pids).encode("utf-8")).hexdigest()[:12]


def default_index(
    path: Path,
    questions: Sequence[SquadQuestion],
    settings: Settings,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> Path:
    """The cached index of the sample's paragraphs (SQuAD file `path`), built if absent, reused otherwise.

    Named after the file, the paragraph ids, the model and the chunker, so another sample or
    chunker gets its own folder; unchanged paragraphs are checked by hash, never re-embedded.
    """
    from ingest.indexer import ingest_documents

    path = Path(path)
    name = f"{path.parent.name}-{path.stem}" if path.parent.name else path.stem
    tag = f"{name}-{corpus_key(questions)}-{settings.embedding_model}-{settings.chunk_tokens}-{settings.chunk_overlap}"
    root = Path(cache_dir or platformdirs.user_cache_dir("grounded", appauthor=False)) / "squad" / tag
    ingest_documents(paragraph_documents(questions), settings.with_overrides(index=root), progress=progress)
    return root


# --- scoring ------------------------------------------------------------------------------------
def score_squad(q: SquadQuestion, answer: Any, entails: Judge, latency_ms: float = 0.0) -> dict[str, Any]:
    """One JSON-able record: official EM/F1, containment, ALCE citation recall/precision and gold-paragraph citing.

    `entails(sentence, passage_texts)` judges support (e.g. `pipeline.verifier.supports`); passage n of
    a sentence is `answer.trace.fused.hits[n - 1]`, the n-th of the top-k the generator saw.
    """
    has_answer = not q.is_impossible
    golds = list(q.answers) if has_answer else [""]
    prediction = "" if answer.abstained else strip_markers(answer.text)
    alce = citation_scores(answer, entails)
    generation = getattr(answer.trace, "generation", None) or {}
    evidence = generation.get("evidence")  # extractive only: the abstention score
    gold_cited = None
    if has_answer and not answer.abstained and answer.citations:
        gold = paragraph_source(q.paragraph_id)
        gold_cited = sum(c.chunk.source == gold for c in answer.citations) / len(answer.citations)
    return {
        "id": q.id,
        "question": q.question,
        "paragraph_id": q.paragraph_id,
        "has_answer": has_answer,
        "gold": list(q.answers),
        "prediction": prediction,
        "answer": answer.text,
        "abstained": bool(answer.abstained),
        "reason": answer.reason,
        "exact": exact_match(prediction, golds),
        "f1": f1_score(prediction, golds),
        "contains": (not answer.abstained and contains_answer(prediction, q.answers)) if has_answer else None,
        "citation_recall": None if alce is None else alce[0],
        "citation_precision": None if alce is None else alce[1],
        "gold_cited": gold_cited,
        # For the official best-threshold search: the no-answer probability (1 - evidence; None without
        # an evidence score) and whether the generator itself abstained on it (no answer text to score).
        "na_prob": None if evidence is None else round(1.0 - float(evidence), 4),
        "generation_abstained": generation.get("decision") == "abstain",
        "sentences": [sc.to_dict() for sc in answer.sentences],
        "citations": [{"n": c.n, "source": c.chunk.source} for c in answer.citations],
        "latency_ms": latency_ms,
    }


def summarize_squad(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """HasAns / NoAns / overall official scores, abstention, ALCE citation means and latency."""
    has = [r for r in records if r["has_answer"]]
    no = [r for r in records if not r["has_answer"]]
    answered = [r for r in records if not r["abstained"]]
    lat = [r["latency_ms"] for r in records]
    return {
        "questions": len(records),
        "answered": len(answered),
        "HasAns": {
            "count": len(has),
            "exact": mean(r["exact"] for r in has),
            "f1": mean(r["f1"] for r in has),
            "accuracy": ratio(sum(bool(r["contains"]) and not r["abstained"] for r in has), len(has)),
            "false_refusal": ratio(sum(r["abstained"] for r in has), len(has)),
        },
        "NoAns": {
            "count": len(no),
            "exact": mean(r["exact"] for r in no),
            "f1": mean(r["f1"] for r in no),
            "accuracy": ratio(sum(r["abstained"] for r in no), len(no)),
        },
        "overall": {"exact": mean(r["exact"] for r in records), "f1": mean(r["f1"] for r in records)},
        "citation_recall": mean(r["citation_recall"] for r in answered),
        "citation_precision": mean(r["citation_precision"] for r in answered),
        "gold_citation_precision": mean(r["gold_cited"] for r in records),
        "latency_ms_p50": percentile(lat, 50) if lat else None,
        "latency_ms_p95": percentile(lat, 95) if lat else None,
    }


# --- the official best-threshold search ----------------------------------------------------------
def find_best_thresh(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """(best score, its no-answer-probability threshold), ported from the official SQuAD 2.0 script.

    Port of `find_best_thresh` in evaluate-v2.0.py (https://rajpurkar.github.io/SQuAD-explorer/,
    "Official evaluation script for v2.0"): start with every question unanswered (each NoAns one
    scores 1), then answer them in increasing `na_probs` order, adding the raw score of a HasAns
    answer and losing 1 for a non-empty answer to a NoAns question; the best running total wins,
    the threshold is the `na_prob` of the last question answered (answer iff na_prob <= threshold).
    `scores` are raw per-question EM or F1 of `preds` as if always answered. One difference in scale:
    the script returns 100 x score; this returns the fraction, as the rest of the summary.
    """
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for qid in qid_list:
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:  # noqa: SIM108 (kept in the script's shape)
            diff = scores[qid]
        else:
            diff = -1 if preds[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return best_score / len(scores), best_thresh


def best_thresholds(records: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """The script's `find_all_best_thresh` over records with a `na_prob`: best_exact/_f1 and their thresholds.

    Each record's fixed prediction is its `raw_prediction` (the would-be answer of a question the
    generator abstained on, see `evaluate`) or else its `prediction`; `*_evidence_threshold` is the
    same cut as an evidence score (answer iff evidence >= 1 - na_prob threshold), beside the run's
    calibrated `abstain_threshold`. All None when the answers carry no evidence score (LLM generators).
    """
    keys = ("best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh")
    empty: dict[str, float | None] = dict.fromkeys(
        (*keys, "best_exact_evidence_threshold", "best_f1_evidence_threshold")
    )
    if not records or any(r.get("na_prob") is None for r in records):
        return empty
    preds = {r["id"]: r.get("raw_prediction", r["prediction"]) for r in records}
    golds = {r["id"]: (list(r["gold"]) if r["has_answer"] else [""]) for r in records}
    exact_raw = {q: exact_match(p, golds[q]) for q, p in preds.items()}
    f1_raw = {q: f1_score(p, golds[q]) for q, p in preds.items()}
    na_probs = {r["id"]: float(r["na_prob"]) for r in records}
    has_ans = {r["id"]: bool(r["has_answer"]) for r in records}
    best_exact, exact_thresh = find_best_thresh(preds, exact_raw, na_probs, has_ans)
    best_f1, f1_thresh = find_best_thresh(preds, f1_raw, na_probs, has_ans)
    return {
        "best_exact": best_exact,
        "best_exact_thresh": exact_thresh,
        "best_f1": best_f1,
        "best_f1_thresh": f1_thresh,
        "best_exact_evidence_threshold": round(1.0 - exact_thresh, 4),
        "best_f1_evidence_threshold": round(1.0 - f1_thresh, 4),
    }


def add_raw_predictions(
    pipeline: Pipeline,
    questions: Sequence[SquadQuestion],
    results: Mapping[str, tuple[Sequence[dict[str, Any]], dict[str, Any]]],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Give each record the answer it would have had with no evidence threshold (`raw_prediction`).

    The official search needs a prediction for every question, as a SQuAD 2.0 model always has a
    span besides its no-answer probability. Answered questions keep their answer; only those the
    extractive generator abstained on are drafted again with the threshold off and finished under
    the same policy. Then each summary gets `best_thresholds` beside its calibrated threshold.
    """
    by_id = {q.id: q for q in questions}
    redo = sorted({r["id"] for recs, _ in results.values() for r in recs if r.get("generation_abstained")})
    if redo and pipeline.settings.generator == "extractive":
        # evidence = w*similarity + (1-w)*coverage >= -1: a threshold of -1 never abstains on evidence
        open_pipeline = pipeline.with_settings(abstain_threshold=-1.0)
        drafts = {}
        for i, qid in enumerate(redo, 1):
            drafts[qid] = open_pipeline.draft(by_id[qid].question)
            if progress:
                progress(i, len(redo))
        for policy, (records, _) in results.items():
            for r in records:
                if r["id"] in drafts:
                    answer = open_pipeline.finish(drafts[r["id"]], policy)
                    r["raw_prediction"] = "" if answer.abstained else strip_markers(answer.text)
    for records, summary in results.values():
        summary.update(best_thresholds(records))
        summary["calibrated_threshold"] = pipeline.settings.abstain_threshold


# --- running --------------------------------------------------------------------------------------
def evaluate(
    pipeline: Pipeline,
    questions: Sequence[SquadQuestion],
    policies: Sequence[str] = POLICIES,
    progress: Callable[[int, int], None] | None = None,
    judge: str = "self",
    best_threshold: bool = True,
) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """{policy: (records, summary)}: each question drafted once, then checked and scored under every policy.

    The citation judge is chosen by name (see eval.judges; default "self", our verifier); latency is
    the draft time plus that policy's check. With `best_threshold`, each summary also has the official
    script's best EM/F1 thresholds (see `add_raw_predictions`).
    """
    results = score_under_policies(
        pipeline,
        questions,
        lambda q: q.question,
        lambda q, answer, latency, judge: score_squad(q, answer, judge, latency),
        summarize_squad,
        policies,
        progress,
        judge,
    )
    if best_threshold:
        add_raw_predictions(pipeline, questions, results, progress)
    return results


def format_report(results: Mapping[str, tuple[Sequence[Mapping[str, Any]], Mapping[str, Any]]]) -> str:
    """One aligned row per policy: HasAns EM/F1/accuracy, NoAns accuracy, overall EM/F1, citations, latency."""

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}"

    head = ["policy", "HasAns EM", "HasAns F1", "HasAns acc", "NoAns acc", "EM", "F1", "cit.prec", "cit.rec"]
    head += ["gold-cited", "p50 ms"]
    rows = [head]
    for policy, (_, s) in results.items():
        p50 = s.get("latency_ms_p50")
        rows.append(
            [
                policy,
                pct(s["HasAns"]["exact"]),
                pct(s["HasAns"]["f1"]),
                pct(s["HasAns"]["accuracy"]),
                pct(s["NoAns"]["accuracy"]),
                pct(s["overall"]["exact"]),
                pct(s["overall"]["f1"]),
                pct(s["citation_precision"]),
                pct(s["citation_recall"]),
                pct(s["gold_citation_precision"]),
                "n/a" if p50 is None else f"{p50:.0f}",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    first = next(iter(results.values()), None)
    if first is not None:
        s = first[1]
        lines.insert(
            0,
            f"{s['questions']} questions ({s['HasAns']['count']} HasAns, {s['NoAns']['count']} NoAns); "
            f"scores in %, citations judged ALCE-style ({s.get('judge_label', 'self-judged')})",
        )
        if first[1].get("best_f1") is not None:
            for policy, (_, s) in results.items():
                lines.append(
                    f"{policy}: calibrated threshold {s['calibrated_threshold']:.3f}: F1 {pct(s['overall']['f1'])}, "
                    f"EM {pct(s['overall']['exact'])}; best (official search): F1 {pct(s['best_f1'])} at "
                    f"evidence >= {s['best_f1_evidence_threshold']:.3f}, EM {pct(s['best_exact'])} at "
                    f">= {s['best_exact_evidence_threshold']:.3f}"
                )
    return "\n".join(lines)


def write_reports(out: Path, results: Mapping[str, tuple[Sequence[dict[str, Any]], dict[str, Any]]]) -> None:
    """`out/<policy>/results.jsonl` and `summary.json` per policy, and `out/summary.json` ({policy: summary})."""
    out = Path(out)
    for policy, (records, summary) in results.items():
        write_policy_reports(out / policy, records, summary)
    combined = {policy: summary for policy, (_, summary) in results.items()}
    (out / "summary.json").write_text(json.dumps(combined, indent=2, ensure_ascii=False), encoding="utf-8")
