"""Retrieval quality on a BEIR-format benchmark: every retriever list and the final pipeline, one run.

    grounded eval --format beir ../shared/bench/scifact/beir --split test --out runs/scifact

The corpus goes into its own index (never the user's): by default a cache folder named after
the dataset, model and chunker, so a second run re-ingests nothing. Chunks are ranked by each
stage, then mapped to documents (a document ranks where its best chunk ranks).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from eval.metrics import RANKING_METRICS, ranking_scores
from ingest.loaders import LoadedDocument
from rag.errors import DatasetError
from rag.settings import Settings
from rag.types import RankedList


@dataclass(frozen=True)
class BeirData:
    """Corpus documents, queries and graded relevance judgements of one split."""

    name: str
    docs: list[LoadedDocument]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"no {path.name} in {path.parent}: a BEIR folder holds corpus.jsonl, queries.jsonl, qrels/")
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    return rows


def doc_key(name: str, doc_id: str) -> str:
    """The index key (chunk source) of a BEIR document."""
    return f"beir/{name}/{doc_id}"


def load_beir(folder: Path, split: str = "test") -> BeirData:
    """Read corpus.jsonl, queries.jsonl and qrels/<split>.tsv; only queries judged in the split are kept."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no BEIR folder at {folder}: give the folder holding corpus.jsonl")
    name = folder.name if folder.name != "beir" else folder.parent.name
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        have = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DatasetError(f"no qrels/{split}.tsv in {folder}: choose --split from {', '.join(have) or 'none found'}")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if not row or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries = {str(r["_id"]): r["text"] for r in _jsonl(folder / "queries.jsonl") if str(r["_id"]) in qrels}
    docs = []
    for r in _jsonl(folder / "corpus.jsonl"):
        title, text = (r.get("title") or "").strip(), (r.get("text") or "").strip()
        meta = {"format": "beir", **({"title": title} if title else {})}
        docs.append(LoadedDocument(Path(doc_key(name, str(r["_id"]))), text or title, meta))
    missing = set(qrels) - set(queries)
    if missing:
        raise DatasetError(f"{len(missing)} judged queries are missing from queries.jsonl (e.g. {sorted(missing)[0]})")
    return BeirData(name, docs, queries, qrels)


def default_index(data: BeirData, settings: Settings) -> Path:
    tag = f"{data.name}-{settings.embedding_model}-{settings.chunk_tokens}-{settings.chunk_overlap}"
    return Path(platformdirs.user_cache_dir("grounded", appauthor=False)) / "beir" / tag


def to_docs(lst: RankedList, name: str) -> list[str]:
    """Document ids in the order of their best chunk."""
    prefix = f"beir/{name}/"
    seen: dict[str, None] = {}
    for hit in lst.hits:
        seen.setdefault(hit.chunk.source.removeprefix(prefix), None)
    return list(seen)


def evaluate(
    pipeline: Any, data: BeirData, progress: Callable[[int, int], None] | None = None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Per-query rankings and scores, and the mean of each metric per list (each stage and `pipeline`)."""
    records = []
    totals: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    for i, (qid, text) in enumerate(data.queries.items(), 1):
        retrieval = pipeline.retrieve(text)
        lists = {lst.name: lst for lst in retrieval.lists}
        lists["pipeline"] = retrieval.fused
        rec: dict[str, Any] = {"query_id": qid, "query": text, "relevant": data.qrels[qid]}
        for name, lst in lists.items():
            ranked = to_docs(lst, data.name)
            scores = ranking_scores(ranked, data.qrels[qid])
            rec[name] = {"top10": ranked[:10], **scores}
            for metric, value in scores.items():
                totals.setdefault(name, {}).setdefault(metric, 0.0)
                totals[name][metric] += value
        records.append(rec)
        if progress:
            progress(i, len(data.queries))
    n = max(1, len(records))
    summary = {name: {m: round(v / n, 4) for m, v in metrics.items()} for name, metrics in totals.items()}
    summary["pipeline"]["queries"] = len(records)
    summary["pipeline"]["seconds_per_query"] = round((time.perf_counter() - t0) / n, 4)
    return records, summary


def format_table(summary: dict[str, dict[str, float]], order: Sequence[str] = ("dense", "bm25", "pipeline")) -> str:
    metrics = list(RANKING_METRICS)
    lines = [f"{'list':<10}" + "".join(f"{m:>12}" for m in metrics)]
    for name in [*order, *sorted(set(summary) - set(order))]:
        if name in summary:
            lines.append(f"{name:<10}" + "".join(f"{summary[name][m]:>12.4f}" for m in metrics))
    return "\n".join(lines)


def write(out: Path, records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """`out/summary.json` and `out/queries.jsonl` (per-query rankings and scores)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
