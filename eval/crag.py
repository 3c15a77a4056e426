"""CRAG (Meta, KDD Cup 2024) example questions: each question's five web pages as its own corpus.

Yang et al., "CRAG — Comprehensive RAG Benchmark" (NeurIPS 2024 Datasets & Benchmarks; github.com/facebookresearch/CRAG).
Per question, the HTML of its five search results goes through our HTML loader (ingest/loaders.py) into a
per-question index in a temporary folder, and the full pipeline (dense + BM25, fusion, generation, checking)
answers from it. CRAG's scoring: accurate +1, missing ("I don't know"; our abstention) 0, hallucinated -1.
CRAG judges "accurate" with an LLM (after exact match); ours is string match: the normalised gold answer
(or an alternative) occurs, as whole words, in the normalised answer. Long free-text golds rarely match
verbatim, so our accuracy is a lower bound and hallucination an upper one.

    grounded eval --format crag ../shared/bench/crag_example/dev_data.jsonl.bz2 --out runs/crag
"""

from __future__ import annotations

import bz2
import gzip
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import mean, percentile, ratio, squad_tokens, wilson_interval
from eval.report import markdown_table, pct, text_table
from eval.run import write_bench_run
from ingest.loaders import HtmlLoader, LoadedDocument
from rag.errors import DatasetError, GroundedError
from rag.settings import Settings
from rag.verify import strip_markers


@dataclass(frozen=True)
class Page:
    """One search result: its name, URL and the full page HTML."""

    name: str
    url: str
    html: str


@dataclass(frozen=True)
class CragQuestion:
    """One CRAG question with its gold answer, alternatives and five pages."""

    id: str
    query: str
    answer: str
    alternatives: tuple[str, ...]
    question_type: str
    domain: str
    pages: tuple[Page, ...]


def _open_text(path: Path) -> Any:
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def load_crag(path: Path) -> list[CragQuestion]:
    """Every question of a CRAG JSON Lines file (.jsonl, .jsonl.bz2 or .jsonl.gz), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no CRAG file at {path}: give e.g. ../shared/bench/crag_example/dev_data.jsonl.bz2")
    out = []
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pages = tuple(
                    Page(str(r.get("page_name") or ""), str(r.get("page_url") or ""), str(r.get("page_result") or ""))
                    for r in row["search_results"]
                )
                out.append(
                    CragQuestion(
                        id=str(row["interaction_id"]),
                        query=str(row["query"]),
                        answer=str(row["answer"]),
                        alternatives=tuple(str(a) for a in row.get("alternative_answers") or []),
                        question_type=str(row.get("question_type") or ""),
                        domain=str(row.get("domain") or ""),
                        pages=pages,
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
                raise DatasetError(
                    f"{path}:{lineno}: not a CRAG record ({e.__class__.__name__}: {e}): each line needs "
                    '{"interaction_id", "query", "answer", "search_results": [{"page_result", ...}]}'
                ) from None
    if not out:
        raise DatasetError(f"{path}: no CRAG questions")
    return out


# --- scoring (pure) -------------------------------------------------------------------------------
def _contains_words(text: list[str], gold: list[str]) -> bool:
    n = len(gold)
    return n > 0 and any(text[i : i + n] == gold for i in range(len(text) - n + 1))


def accurate(prediction: str, golds: Sequence[str]) -> bool:
    """A gold answer occurs as whole words in the prediction (SQuAD normalisation: case, punctuation, articles)."""
    words = squad_tokens(prediction)
    return any(_contains_words(words, squad_tokens(g)) for g in golds)


def verdict(abstained: bool, prediction: str, golds: Sequence[str]) -> str:
    """CRAG's three outcomes: "missing" (abstained), "accurate" or "hallucinated"."""
    if abstained:
        return "missing"
    return "accurate" if accurate(prediction, golds) else "hallucinated"


POINTS = {"accurate": 1, "missing": 0, "hallucinated": -1}


def score_crag(q: CragQuestion, answer: Any, latency_ms: float, pages: Sequence[str] = ()) -> dict[str, Any]:
    """One record in the run-folder shape with the CRAG verdict and points."""
    prediction = "" if answer.abstained else strip_markers(answer.text)
    v = verdict(bool(answer.abstained), prediction, [q.answer, *q.alternatives])
    return {
        "id": q.id,
        "question": q.query,
        "type": q.question_type,
        "domain": q.domain,
        "gold": [q.answer, *q.alternatives],
        "answer": answer.text,
        "prediction": prediction,
        "abstained": bool(answer.abstained),
        "reason": answer.reason,
        "verdict": v,
        "points": POINTS[v],
        "correct": v == "accurate",
        "pages_indexed": list(pages),
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


def summarize_crag(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy, hallucination and missing rates (Wilson 95%), the CRAG score, per question type too."""

    def block(recs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        n = len(recs)
        out: dict[str, Any] = {"n": n}
        for key in ("accurate", "hallucinated", "missing"):
            k = sum(r["verdict"] == key for r in recs)
            out[key] = {"rate": ratio(k, n), "k": k, "n": n, "interval": list(wilson_interval(k, n)) if n else None}
        out["score"] = mean(r["points"] for r in recs)
        return out

    overall = block(records)
    types: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        types.setdefault(r["type"] or "untyped", []).append(r)
    lat = [r["latency_ms"] for r in records]
    metrics = {k: overall[k]["rate"] for k in ("accurate", "hallucinated", "missing")}
    metrics["score"] = overall["score"]
    return {
        "questions": len(records),
        "cases": len(records),
        "overall": overall,
        "by_type": {t: block(rs) for t, rs in sorted(types.items())},
        "metrics": metrics,
        "intervals": {
            k: overall[k]["interval"] for k in ("accurate", "hallucinated", "missing") if overall[k]["interval"]
        },
        "latency_ms_p50": percentile(lat, 50) if lat else None,
        "latency_ms_p95": percentile(lat, 95) if lat else None,
    }


# --- the per-question corpus ------------------------------------------------------------------------
def page_documents(q: CragQuestion, folder: Path) -> tuple[list[LoadedDocument], list[str]]:
    """The question's pages through our HTML loader (each written to `folder` first); (documents, skipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    loader = HtmlLoader()
    docs, skipped = [], []
    for i, page in enumerate(q.pages, 1):
        path = folder / f"page{i}.html"
        path.write_text(page.html, encoding="utf-8")
        try:
            doc = loader.load(path)
        except GroundedError as e:  # an empty or text-less page: the question just has fewer pages
            skipped.append(f"page{i}: {e}")
            continue
        meta = {**doc.metadata, "url": page.url, **({"title": page.name} if page.name else {})}
        docs.append(LoadedDocument(doc.path, doc.text, meta, doc.markers))
    return docs, skipped


def answer_question(q: CragQuestion, settings: Settings, work: Path) -> tuple[Any, list[str], list[str]]:
    """Index the question's pages in `work`, answer it from them; (answer, pages indexed, pages skipped)."""
    from ingest.indexer import ingest_documents
    from rag.pipeline import Pipeline

    docs, skipped = page_documents(q, work / "pages")
    s = settings.with_overrides(index=work / "index")
    if not docs:
        from rag.index import Index

        index = Index.create(s.index, s.embedding_model, 0, {})
        pipe = Pipeline(s, index, _embeddings(s), _generator(s))
    else:
        ingest_documents(docs, s, progress=False)
        pipe = Pipeline.from_settings(s)
    answer = pipe.ask(q.query)
    pipe.index.close()
    return answer, [d.path.name for d in docs], skipped


def _embeddings(s: Settings) -> Any:
    from rag.embeddings import load_embeddings

    return load_embeddings(
        s.embedding_model, threads=s.threads, batch_size=s.embed_batch_size, precision=s.embed_precision
    )


def _generator(s: Settings) -> Any:
    from rag.generators import load_generator

    return load_generator(s, _embeddings(s))


def evaluate(
    questions: Sequence[CragQuestion],
    settings: Settings,
    progress: Callable[[int, int], None] | None = None,
    work: Path | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(records, summary): every question answered from an index of its own five pages (temp folders).

    >>> records, summary = evaluate(load_crag(Path("dev_data.jsonl.bz2")), Settings())
    >>> summary["overall"]["score"]
    """
    records = []
    t_run = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grounded-crag-", dir=work) as tmp:
        for i, q in enumerate(questions, 1):
            t0 = time.perf_counter()
            answer, pages, skipped = answer_question(q, settings, Path(tmp) / f"q{i:04d}")
            rec = score_crag(q, answer, (time.perf_counter() - t0) * 1000, pages)
            rec["pages_skipped"] = skipped
            rec["answer_ms"] = answer.timings_ms.get("total")
            records.append(rec)
            if progress:
                progress(i, len(questions))
    summary = summarize_crag(records)
    summary.update(
        format="crag",
        seconds=round(time.perf_counter() - t_run, 1),
        generator=settings.generator,
        policy=settings.verify_policy,
        judge="string match (gold or alternative answer as whole words, SQuAD-normalised); CRAG uses an LLM judge",
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
    """Load a CRAG file (its first `limit` questions) and evaluate it; `seed` is unused (no sampling)."""
    questions = load_crag(path)[:limit] if limit else load_crag(path)
    records, summary = evaluate(questions, settings, progress)
    summary["dataset"] = str(path)
    return records, summary


# --- reporting ----------------------------------------------------------------------------------------
def report_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """Header and rows: overall, then each question type."""
    head = ["questions", "n", "accurate", "hallucinated", "missing", "score"]
    rows = [head]
    for name, b in [("all", summary["overall"]), *summary["by_type"].items()]:
        rates = [pct(b[k]["rate"]) for k in ("accurate", "hallucinated", "missing")]
        rows.append([name, str(b["n"]), *rates, pct(b["score"])])
    return rows


def format_report(summary: Mapping[str, Any]) -> str:
    """Aligned text, rates and score in %."""
    lines = text_table(report_rows(summary))
    lines.insert(0, f"CRAG {summary.get('dataset', '')}: {summary['questions']} questions; % (score = acc - halluc.)")
    lines.append(f"judge: {summary.get('judge', '')}")
    return "\n".join(lines)


def report_markdown(summary: Mapping[str, Any]) -> str:
    """The report as Markdown."""
    md = markdown_table(report_rows(summary))
    return "\n".join(
        [
            f"# CRAG: {summary.get('dataset', '')}",
            "",
            f"{summary['questions']} questions, {summary.get('seconds')} s; rates and score in %. "
            "Scoring: accurate +1, missing (abstained) 0, hallucinated -1.",
            "",
            *md,
            "",
            f"Judge: {summary.get('judge', '')}.",
        ]
    )


def written_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """summary.json's form: flat rates and score beside their intervals; the blocks per type as a list."""
    out = {k: v for k, v in summary.items() if k not in ("overall", "by_type", "metrics")}
    out.update(summary["metrics"])
    out["by_type"] = [{"type": "all", **summary["overall"]}] + [{"type": t, **b} for t, b in summary["by_type"].items()]
    return out


def write_run(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    dataset: Path,
    settings: Settings,
    started: str | None = None,
) -> None:
    """The run folder (results.jsonl, summary.json, run.json, report.html/.md, plots/) with the CRAG table."""
    write_bench_run(
        out, records, written_summary(summary), dataset, settings, "crag", report_markdown(summary), started
    )
