"""RGB (Chen et al., AAAI 2024) through the pipeline: noise robustness, negative rejection, counterfactuals.

Chen, Lin, Han, Sun. "Benchmarking Large Language Models in Retrieval-Augmented Generation", AAAI-24
(arXiv 2309.01431; data and code: github.com/chen700564/RGB). Per question, 5 passages are mixed from its
`positive` and `negative` lists at noise ratios 0–0.8 (the paper's counts: ceil(5·ratio) negatives), and all
5 go to the generator: a retriever stage that returns exactly the question's passages (ranked by cosine
similarity) stands in for the index, so retrieval is not what is tested. Matching follows the paper's
`checkanswer`: every part of the answer must occur in the output (a part given as a list matches by any of its
alternatives), case-folded, spaces removed for Chinese. Our abstention counts as the paper's rejection
("insufficient information"); for `*_fact` files it also counts as error detection, which is generous.

    grounded eval --format rgb ../shared/bench/rgb/zh_refine.json --out runs/rgb-zh
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from eval.metrics import percentile, ratio, wilson_interval
from eval.report import markdown_table, pct, text_table
from eval.run import write_bench_run
from rag.embeddings import sentence_vectors
from rag.errors import DatasetError
from rag.index import Index
from rag.retrievers import Query
from rag.settings import Settings
from rag.types import Chunk, Hit, RankedList, chunk_id
from rag.verify import strip_markers

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

RATIOS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)
PASSAGES = 5
REJECT_PHRASES = ("信息不足", "insufficient information")  # the paper's rejection strings (for LLM generators)
FACT_PHRASES = ("事实性错误", "factual errors")  # the paper's error-detection strings

# The paper's figures (Chen et al., AAAI 2024, arXiv 2309.01431v2), in %: accuracy per noise ratio; negative
# rejection (Rej = exact match of the rejection string, Rej* judged by ChatGPT); counterfactual robustness
# (Acc without documents, Acc_doc with the counterfactual ones, ED / ED* error detection, CR error correction).
# Missing keys = not transcribed.
PAPER_MODELS = ("ChatGPT", "ChatGLM-6B", "ChatGLM2-6B", "Vicuna-7B-v1.3", "Qwen-7B-Chat", "BELLE-7B-2M")
# NOT VERIFIED: transcribed from memory of the paper's tables; the tables could not be retrieved in this session
# to confirm them. Check against arXiv 2309.01431 before citing; `PAPER_VERIFIED` says so in every report.
PAPER_VERIFIED = False
PAPER_NOTE = (
    "* paper figures: Chen et al. AAAI 2024 (arXiv 2309.01431), its noise-robustness, negative-rejection (Rej; Rej* "
    "judged by ChatGPT) and counterfactual (Acc_doc, ED, CR) tables; "
    + ("checked against the paper" if PAPER_VERIFIED else "transcribed from memory, NOT verified: check before citing")
    + ". The paper ran en.json/zh.json; zh_refine.json is the repository's refined Chinese set and en.json is not in "
    "our snapshot (our English acc@ratio/Rej use en_fact's own pools), so rows are comparable, not identical."
)
_NOISE = ("noise_0.0", "noise_0.2", "noise_0.4", "noise_0.6", "noise_0.8")


def _row(noise: Sequence[float], rej: float, rej_star: float, **fact: float) -> dict[str, float | None]:
    return {**dict(zip(_NOISE, noise, strict=True)), "rejection": rej, "rejection_star": rej_star, **fact}


# The counterfactual table (Acc without/with the documents, ED, ED*, CR) has only ChatGPT's row.
_CHATGPT_FACT = {
    "en": {"acc_nodoc": 89.0, "acc_doc": 9.0, "ed": 8.0, "ed_star": 7.0, "cr": 57.14},
    "zh": {"acc_nodoc": 91.0, "acc_doc": 17.0, "ed": 1.0, "ed_star": 3.0, "cr": 33.33},
}
PAPER: dict[str, dict[str, dict[str, float | None]]] = {
    "en": {
        "ChatGPT": _row((96.33, 94.67, 94.00, 90.00, 76.00), 24.67, 45.00, **_CHATGPT_FACT["en"]),
        "ChatGLM-6B": _row((93.67, 90.67, 89.33, 84.67, 70.67), 9.00, 25.00),
        "ChatGLM2-6B": _row((91.33, 89.67, 83.00, 77.33, 57.33), 10.33, 41.33),
        "Vicuna-7B-v1.3": _row((87.67, 83.33, 86.00, 82.33, 60.33), 17.00, 33.33),
        "Qwen-7B-Chat": _row((94.33, 91.67, 91.00, 87.67, 73.67), 31.00, 35.67),
        "BELLE-7B-2M": _row((83.33, 81.00, 79.00, 71.33, 64.67), 5.67, 14.33),
    },
    "zh": {
        "ChatGPT": _row((95.67, 94.67, 91.00, 87.67, 70.67), 5.33, 43.33, **_CHATGPT_FACT["zh"]),
        "ChatGLM-6B": _row((94.33, 90.67, 89.00, 82.33, 69.00), 6.33, 17.00),
        "ChatGLM2-6B": _row((86.67, 82.33, 76.67, 72.33, 54.00), 6.33, 36.33),
        "Vicuna-7B-v1.3": _row((85.67, 82.67, 77.00, 69.33, 49.67), 3.37, 24.67),
        "Qwen-7B-Chat": _row((94.00, 92.33, 88.00, 84.33, 68.67), 8.67, 25.33),
        "BELLE-7B-2M": _row((92.00, 88.67, 85.33, 78.33, 67.68), 5.33, 13.67),
    },
}


@dataclass(frozen=True)
class RGBQuestion:
    """One RGB instance: the query, its answer parts (each a tuple of alternatives) and its passage pools."""

    id: str
    query: str
    answer: tuple[tuple[str, ...], ...]
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    fake: tuple[tuple[str, ...], ...] = ()
    positive_wrong: tuple[str, ...] = ()

    @property
    def zh(self) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in self.query)


@dataclass(frozen=True)
class Case:
    """One question under one condition: the passages the generator sees, each with its kind."""

    question: RGBQuestion
    condition: str  # "noise_0.4", "rejection" or "counterfactual"
    passages: tuple[tuple[str, str], ...] = field(default=())  # (kind, text): positive|negative|counterfactual


# --- loading ------------------------------------------------------------------------------------
def _parts(value: Any) -> tuple[tuple[str, ...], ...]:
    """The paper's answer shape: a string, or a list of parts each a string or a list of alternatives."""
    items = value if isinstance(value, list) else [value]
    return tuple(tuple(str(a) for a in x) if isinstance(x, list) else (str(x),) for x in items)


def load_rgb(path: Path) -> list[RGBQuestion]:
    """Every instance of an RGB file (JSON Lines despite the .json name), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no RGB file at {path}: give e.g. ../shared/bench/rgb/zh_refine.json or en_fact.json")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = RGBQuestion(
                id=str(row["id"]),
                query=str(row["query"]),
                answer=_parts(row["answer"]),
                positive=tuple(str(p) for p in row["positive"]),
                negative=tuple(str(p) for p in row["negative"]),
                fake=_parts(row["fakeanswer"]) if "fakeanswer" in row else (),
                positive_wrong=tuple(str(p) for p in row.get("positive_wrong", [])),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DatasetError(
                f"{path}:{lineno}: not an RGB instance ({e.__class__.__name__}: {e}): each line needs "
                '{"id", "query", "answer", "positive": [...], "negative": [...]} (and "fakeanswer", '
                '"positive_wrong" in *_fact files)'
            ) from None
        out.append(q)
    if not out:
        raise DatasetError(f"{path}: no RGB instances")
    return out


# --- sampling (pure) ----------------------------------------------------------------------------
def _rng(seed: int, qid: str, condition: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{qid}\x00{condition}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def mix_counts(ratio_: float, positives: int, negatives: int, n: int = PASSAGES) -> tuple[int, int]:
    """(positives, negatives) to show at a noise ratio: the paper's ceil(n·ratio) negatives, topped up from
    the other pool when one runs short (as RGB's `processdata`)."""
    neg = n if ratio_ >= 1 else math.ceil(n * ratio_ - 1e-9)
    pos = n - neg
    if ratio_ >= 1:
        return 0, min(n, negatives)
    if neg > negatives:
        neg, pos = negatives, min(positives, n - negatives)
    elif pos > positives:
        pos, neg = positives, min(negatives, n - positives)
    return pos, neg


def sample_case(q: RGBQuestion, condition: str, seed: int = 0, n: int = PASSAGES) -> Case:
    """The passages of one condition, then shuffled (seeded per question and condition).

    Each pool is shuffled once per question (seeded), and a condition takes the first passages of each,
    as RGB's `processdata` takes `positive[:k]`: across ratios the same question swaps positives for
    negatives and nothing else. noise_R: ceil(n·R) negatives, the rest positive; rejection: n negatives;
    counterfactual: up to n counterfactual (`positive_wrong`) passages.
    """
    pool = _rng(seed, q.id, "pools")
    positive, negative, wrong = list(q.positive), list(q.negative), list(q.positive_wrong)
    for items in (positive, negative, wrong):
        pool.shuffle(items)
    if condition == "counterfactual":
        docs = [("counterfactual", p) for p in wrong[:n]]
    else:
        r = 1.0 if condition == "rejection" else float(condition.removeprefix("noise_"))
        pos, neg = mix_counts(r, len(positive), len(negative), n)
        docs = [("positive", p) for p in positive[:pos]] + [("negative", p) for p in negative[:neg]]
    _rng(seed, q.id, condition).shuffle(docs)
    return Case(q, condition, tuple(docs))


def conditions(questions: Sequence[RGBQuestion], ratios: Sequence[float] = RATIOS) -> list[str]:
    """The conditions a file supports: each noise ratio and rejection; counterfactual for *_fact files."""
    out = [f"noise_{r:.1f}" for r in ratios] + ["rejection"]
    if any(q.positive_wrong for q in questions):
        out.append("counterfactual")
    return out


def cases(questions: Sequence[RGBQuestion], seed: int = 0, ratios: Sequence[float] = RATIOS) -> list[Case]:
    """Every (question, condition), question-major (a question's conditions share passages)."""
    conds = conditions(questions, ratios)
    return [sample_case(q, c, seed) for q in questions for c in conds]


# --- matching (pure) ----------------------------------------------------------------------------
def check_answer(prediction: str, answer: Sequence[Sequence[str]]) -> list[int]:
    """RGB's `checkanswer`: one 0/1 label per answer part (a part matches by any of its alternatives)."""
    pred = prediction.lower()
    return [int(any(alt.lower() in pred for alt in part)) for part in answer]


def matches(prediction: str, answer: Sequence[Sequence[str]], zh: bool = False) -> bool:
    """Every answer part occurs in the prediction (spaces removed for Chinese, as the paper)."""
    if not answer:
        return False
    pred = prediction.replace(" ", "") if zh else prediction
    return all(check_answer(pred, answer))


# --- the fixed-passage retriever ------------------------------------------------------------------
class PassagesStage:
    """A retriever stage that returns exactly the current case's passages, in the case's (shuffled) order."""

    name = "passages"

    def __init__(self, index: Index) -> None:
        self.index = index
        self.chunks: tuple[Chunk, ...] = ()

    def set_passages(self, case: Case) -> None:
        """Show this case's passages to the next retrieval."""
        chunks = []
        for i, (kind, text) in enumerate(case.passages, 1):
            source = f"rgb/{case.question.id}/{case.condition}/{i}-{kind}.txt"
            chunks.append(Chunk(chunk_id(source, text), source, 0, len(text), text, {"kind": kind}))
        self.chunks = tuple(chunks)

    def retrieve(self, query: Query, k: int) -> RankedList:
        hits = tuple(Hit(c, r, 1.0 / r) for r, c in enumerate(self.chunks[:k], 1))
        return RankedList(self.name, hits, "the question's own passages (RGB), in their shuffled order")


class CachedEmbeddings:
    """An embedding model that remembers its vectors (the process-wide `sentence_vectors`): a question's
    passages recur under every condition."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        if not texts:
            return self.inner.encode([], **kwargs)
        return sentence_vectors(self.inner)(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def passage_pipeline(
    settings: Settings, embeddings: Any = None, generator: Any = None
) -> tuple[Pipeline, PassagesStage]:
    """A pipeline whose only retriever is a `PassagesStage` (top_k = 5); models loaded unless given."""
    from rag.embeddings import load_embeddings
    from rag.generators import load_generator
    from rag.pipeline import Pipeline

    s = settings.with_overrides(top_k=PASSAGES, sentence_depth=0)
    if embeddings is None:
        embeddings = load_embeddings(
            s.embedding_model, threads=s.threads, batch_size=s.embed_batch_size, precision=s.embed_precision
        )
    embeddings = CachedEmbeddings(embeddings)
    generator = generator or load_generator(s, embeddings)
    index = Index.create(s.index, s.embedding_model, 0, {})  # in memory, never written
    stage = PassagesStage(index)
    return Pipeline(s, index, embeddings, generator, (stage,)), stage


# --- scoring ------------------------------------------------------------------------------------
def score_case(case: Case, answer: Any, latency_ms: float) -> dict[str, Any]:
    """One JSON-able record in the run-folder shape, plus the RGB verdicts of this condition."""
    q = case.question
    prediction = "" if answer.abstained else strip_markers(answer.text)
    rejected = bool(answer.abstained) or any(p in prediction for p in REJECT_PHRASES)
    correct = not rejected and matches(prediction, q.answer, q.zh)
    rec: dict[str, Any] = {
        "id": f"{q.id}/{case.condition}",
        "question_id": q.id,
        "question": q.query,
        "type": case.condition,
        "gold": [list(p) for p in q.answer],
        "answer": answer.text,
        "prediction": prediction,
        "abstained": bool(answer.abstained),
        "reason": answer.reason,
        "passages": [kind for kind, _ in case.passages],
        "correct": correct,
        "rejected": rejected,
        "score": answer.trace.generation.get("evidence"),
        "evidence": answer.trace.generation.get("evidence"),
        "generator": answer.generator,
        "answered_by": answer.answered_by,
        "policy": answer.policy,
        "citations": [{"n": c.n, "source": c.chunk.source} for c in answer.citations],
        "sentences": [sc.to_dict() for sc in answer.sentences],
        "latency_ms": latency_ms,
        "timings": dict(answer.timings_ms),
        "trace": answer.trace.to_dict(),
    }
    rec.update(risk_fields(rec))
    if case.condition == "counterfactual":
        rec["fake"] = [list(p) for p in q.fake]
        rec["fake_answer"] = not rejected and matches(prediction, q.fake, q.zh)
        rec["detected"] = rejected or any(p in prediction for p in FACT_PHRASES)
    return rec


def risk_fields(rec: Mapping[str, Any]) -> dict[str, Any]:
    """For the risk–coverage curve: only noise cases can be answered right; rejection and counterfactual
    cases are "unanswerable" (an answer there is wrong, abstaining right)."""
    answerable = str(rec["type"]).startswith("noise_")
    right = (bool(rec["correct"]) if not rec["abstained"] else None) if answerable else False
    return {"answerable": answerable, "correct_if_answered": right}


def _rate(k: int, n: int) -> dict[str, Any]:
    return {"rate": ratio(k, n), "k": k, "n": n, "interval": list(wilson_interval(k, n)) if n else None}


def summarize_rgb(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per condition: accuracy (noise ratios), rejection rate, counterfactual detection / fake / correction."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by.setdefault(r["type"], []).append(r)
    out: dict[str, Any] = {"questions": len({r["question_id"] for r in records}), "cases": len(records)}
    metrics: dict[str, float | None] = {}
    intervals: dict[str, list[float]] = {}
    conds: dict[str, Any] = {}
    for cond, recs in by.items():
        n = len(recs)
        c: dict[str, Any] = {"n": n, "accuracy": _rate(sum(r["correct"] for r in recs), n)}
        c["abstained"] = _rate(sum(r["abstained"] for r in recs), n)
        if cond == "rejection":
            c["rejection"] = _rate(sum(r["rejected"] for r in recs), n)
        if cond == "counterfactual":
            detected = [r for r in recs if r["detected"]]
            c["error_detection"] = _rate(len(detected), n)
            c["fake_answer"] = _rate(sum(r["fake_answer"] for r in recs), n)
            c["error_correction"] = _rate(sum(r["correct"] for r in detected), len(detected))
        for key, val in c.items():
            if isinstance(val, dict):
                metrics[f"{key}@{cond}"] = val["rate"]
                if val["interval"] is not None:
                    intervals[f"{key}@{cond}"] = val["interval"]
        conds[cond] = c
    lat = [r["latency_ms"] for r in records]
    out["conditions"] = conds
    out["metrics"] = metrics
    out["intervals"] = intervals
    out["latency_ms_p50"] = percentile(lat, 50) if lat else None
    out["latency_ms_p95"] = percentile(lat, 95) if lat else None
    return out


# --- running --------------------------------------------------------------------------------------
def evaluate(
    pipe: Pipeline,
    stage: PassagesStage,
    questions: Sequence[RGBQuestion],
    seed: int = 0,
    ratios: Sequence[float] = RATIOS,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(records, summary): every question under every condition, its 5 passages straight to the generator.

    >>> pipe, stage = passage_pipeline(Settings())
    >>> records, summary = evaluate(pipe, stage, load_rgb(Path("../shared/bench/rgb/zh_refine.json")))
    >>> summary["conditions"]["noise_0.0"]["accuracy"]["rate"]
    """
    todo = cases(questions, seed, ratios)
    records = []
    t_run = time.perf_counter()
    for i, case in enumerate(todo, 1):
        t0 = time.perf_counter()
        stage.set_passages(case)
        answer = pipe.finish(pipe.draft(case.question.query))
        records.append(score_case(case, answer, (time.perf_counter() - t0) * 1000))
        if progress:
            progress(i, len(todo))
    summary = summarize_rgb(records)
    summary.update(
        format="rgb",
        seed=seed,
        seconds=round(time.perf_counter() - t_run, 1),
        policy=pipe.settings.verify_policy,
        generator=pipe.settings.generator,
        matching="RGB checkanswer: every answer part contained (any alternative), case-folded; abstention = rejection",
        paper=PAPER,
    )
    return records, summary


def run_file(
    path: Path,
    settings: Settings,
    *,
    seed: int = 0,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Load an RGB file (its first `limit` questions) and evaluate it with the settings' models."""
    questions = load_rgb(path)[:limit] if limit else load_rgb(path)
    pipe, stage = passage_pipeline(settings)
    records, summary = evaluate(pipe, stage, questions, seed, progress=progress)
    summary["dataset"] = str(path)
    return records, summary


# --- reporting ------------------------------------------------------------------------------------
def _lang(summary: Mapping[str, Any]) -> str:
    return "zh" if "zh" in Path(str(summary.get("dataset", ""))).name else "en"


def report_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """Header and rows: ours and the paper's models, one column per noise ratio, rejection, counterfactual."""
    conds = summary["conditions"]
    noise = [c for c in conds if c.startswith("noise_")]
    head = ["system", *[f"acc@{c.removeprefix('noise_')}" for c in noise], "Rej", "Rej*"]
    fact = "counterfactual" in conds
    if fact:
        head += ["Acc_doc", "fake", "ED", "CR"]
    ours = [f"grounded ({summary.get('generator', '?')})"]
    ours += [pct(conds[c]["accuracy"]["rate"]) for c in noise]
    ours.append(pct(conds["rejection"]["rejection"]["rate"]) if "rejection" in conds else "n/a")
    ours.append("–")
    if fact:
        cf = conds["counterfactual"]
        ours += [pct(cf["accuracy"]["rate"]), pct(cf["fake_answer"]["rate"])]
        ours += [pct(cf["error_detection"]["rate"]), pct(cf["error_correction"]["rate"])]
    rows = [head, ours]
    lang = _lang(summary)
    for model in PAPER_MODELS:
        fig = PAPER.get(lang, {}).get(model, {})
        if not fig:
            continue

        def paper(key: str, fig: Mapping[str, float | None] = fig) -> str:
            v = fig.get(key)
            return "–" if v is None else f"{v:.1f}"

        row = [f"{model} (paper*)", *[paper(c) for c in noise], paper("rejection"), paper("rejection_star")]
        if fact:
            row += [paper("acc_doc"), "–", paper("ed"), paper("cr")]
        rows.append(row)
    return rows


def format_report(summary: Mapping[str, Any]) -> str:
    """Aligned text: our figures (%), then the paper's for the same language."""
    lines = text_table(report_rows(summary))
    conds = summary["conditions"]
    lines.insert(0, f"RGB {summary.get('dataset', '')}: {summary['questions']} questions, {summary['cases']} cases; %")
    if "counterfactual" in conds:
        lines.append("fake = answers containing the counterfactual answer; ED/CR: ours = abstention (see eval/rgb.py)")
    if _lang(summary) == "en" and "counterfactual" in conds:
        lines.append("acc@ratio on en_fact uses its positive/negative pools (en.json is not in the snapshot)")
    lines.append(PAPER_NOTE)
    return "\n".join(lines)


def report_markdown(summary: Mapping[str, Any]) -> str:
    """The report table as Markdown, with the paper's citation and our matching rule."""
    md = markdown_table(report_rows(summary))
    return "\n".join(
        [
            f"# RGB: {summary.get('dataset', '')}",
            "",
            f"{summary['questions']} questions, {summary['cases']} cases, {summary.get('seconds')} s; figures in %.",
            "",
            *md,
            "",
            "Paper: Chen, Lin, Han, Sun, *Benchmarking Large Language Models in Retrieval-Augmented Generation*, "
            'AAAI 2024 (arXiv 2309.01431). Its figures are for LLMs prompted to say "insufficient information" '
            'or "factual errors"; ours count the pipeline\'s abstention as both, so ED is generous and CR is 0.',
            f"Matching: {summary.get('matching', '')}.",
            "",
            PAPER_NOTE,
        ]
    )


def written_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary as summary.json holds it: flat metrics beside their intervals (what the report lists),
    the per-condition detail and the paper's rows as lists (kept, but not listed as our metrics)."""
    out = {k: v for k, v in summary.items() if k not in ("conditions", "metrics", "paper")}
    out.update(summary.get("metrics", {}))
    out["conditions"] = [{"condition": c, **block} for c, block in summary.get("conditions", {}).items()]
    out["paper"] = [
        {"language": lang, "model": model, **figs}
        for lang, rows in summary.get("paper", {}).items()
        for model, figs in rows.items()
    ]
    out["paper_verified"] = PAPER_VERIFIED
    return out


def write_run(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    dataset: Path,
    settings: Settings,
    started: str | None = None,
) -> None:
    """The run folder (eval.run.write_run: results.jsonl, summary.json, run.json, report.html/.md, plots/),
    with the RGB table, ours beside the paper's, added to both reports."""
    write_bench_run(out, records, written_summary(summary), dataset, settings, "rgb", report_markdown(summary), started)
