"""Our ranking metrics (eval.metrics via eval.beir.evaluate) equal ir-measures' on a real run.

A 300-document slice of SciFact (its first 40 test queries, their relevant documents and filler
documents) is written in BEIR format into tmp_path, ingested with the real MiniLM into a real
Chroma index and run through the real pipeline. Every list (dense, BM25, fused pipeline) is then
scored by ir-measures (pytrec_eval, i.e. trec_eval) on the very rankings our evaluation saw, per
query and on the mean: nDCG@10, R@10, R@100 and RR@10 (trec_eval's reciprocal rank, cut at 10,
is our MRR@10). Binary SciFact qrels, then hand-made graded ones (2 / 1 / judged 0) for nDCG's
linear gains.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from eval import beir

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "scifact" / "beir"
N_DOCS, N_QUERIES = 300, 40

pytestmark = pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"{SCIFACT} is missing (CI has ../shared/bench)")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_slice(out: Path) -> Path:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv of the slice, in `out`."""
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if row and row[0] != "query-id" and (row[0] in qrels or len(qrels) < N_QUERIES):
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    wanted = {d for rel in qrels.values() for d in rel}
    corpus = _rows(SCIFACT / "corpus.jsonl")
    docs = [r for r in corpus if str(r["_id"]) in wanted]
    docs += [r for r in corpus if str(r["_id"]) not in wanted][: N_DOCS - len(docs)]
    assert len(docs) == N_DOCS and wanted <= {str(r["_id"]) for r in docs}
    queries = [r for r in _rows(SCIFACT / "queries.jsonl") if str(r["_id"]) in qrels]
    out.mkdir(parents=True)
    (out / "qrels").mkdir()
    (out / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in docs), encoding="utf-8")
    (out / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{r}" for q, rel in qrels.items() for d, r in rel.items()]
    (out / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


class Recording:
    """The real pipeline, remembering each query's retrieval (so ir-measures scores the same rankings)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.seen: dict[str, Any] = {}

    def retrieve(self, text: str) -> Any:
        self.seen[text] = self.pipeline.retrieve(text)
        return self.seen[text]


@pytest.fixture(scope="module")
def scifact_run(tmp_path_factory: pytest.TempPathFactory):
    from ingest.indexer import ingest_documents
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("scifact")
    data = beir.load_beir(write_slice(root / "beir"))
    settings = Settings(index=root / "index", candidates=200)
    ingest_documents(data.docs, settings, progress=False)
    return data, Recording(Pipeline.from_settings(settings))


def graded(data: beir.BeirData, rankings: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, int]]:
    """Hand-made graded qrels: the real relevant documents 2, the 4th pipeline document 1, the 2nd judged 0."""
    out = {}
    for qid, rel in data.qrels.items():
        ranked = rankings[qid]["pipeline"]
        grades = dict.fromkeys(rel, 2)
        if len(ranked) > 3 and ranked[3] not in grades:
            grades[ranked[3]] = 1
        if len(ranked) > 1 and ranked[1] not in grades:
            grades[ranked[1]] = 0
        out[qid] = grades
    return out


def ir_measures_scores(
    qrels: dict[str, dict[str, int]], rankings: dict[str, list[str]]
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per-query and mean {our metric name: value} by ir-measures, for rankings {qid: [doc ids, best first]}."""
    import ir_measures
    from ir_measures import RR, R, nDCG

    names = {nDCG @ 10: "ndcg@10", R @ 10: "recall@10", R @ 100: "recall@100", RR @ 10: "mrr@10"}
    # Strictly decreasing scores: trec_eval ranks by score (ties by doc id), so the order is ours exactly.
    run = {q: {d: float(len(ranked) - i) for i, d in enumerate(ranked)} for q, ranked in rankings.items()}
    per_query: dict[str, dict[str, float]] = {}
    for m in ir_measures.iter_calc(list(names), qrels, run):
        per_query.setdefault(m.query_id, {})[names[m.measure]] = m.value
    means = {names[k]: v for k, v in ir_measures.calc_aggregate(list(names), qrels, run).items()}
    return per_query, means


def rankings_of(data: beir.BeirData, recording: Recording) -> dict[str, dict[str, list[str]]]:
    """{qid: {list name: full document ranking}} from the retrievals the evaluation made."""
    out = {}
    for qid, text in data.queries.items():
        retrieval = recording.seen[text]
        lists = {lst.name: lst for lst in retrieval.lists} | {"pipeline": retrieval.fused}
        out[qid] = {name: beir.to_docs(lst, data.name) for name, lst in lists.items()}
    return out


def check_against_ir_measures(data: beir.BeirData, recording: Recording) -> dict[str, dict[str, float]]:
    records, summary = beir.evaluate(recording, data)
    rankings = rankings_of(data, recording)
    assert len(records) == len(data.queries) == N_QUERIES
    for name in ("dense", "bm25", "pipeline"):
        per_query, means = ir_measures_scores(data.qrels, {q: r[name] for q, r in rankings.items()})
        assert set(per_query) == set(data.queries)
        for rec in records:
            ours = {m: rec[name][m] for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10")}
            assert rec[name]["top10"] == rankings[rec["query_id"]][name][:10]
            assert ours == pytest.approx(per_query[rec["query_id"]], abs=1e-9), (name, rec["query_id"])
        assert {m: summary[name][m] for m in means} == pytest.approx(means, abs=5e-5)  # summary rounds to 4 places
    return summary


@pytest.mark.slow
def test_binary_scifact_qrels_match_ir_measures(scifact_run) -> None:
    data, recording = scifact_run
    summary = check_against_ir_measures(data, recording)
    print({name: summary[name] for name in ("dense", "bm25", "pipeline")})
    assert summary["pipeline"]["ndcg@10"] > 0.3  # a real run on real data, not an empty one


@pytest.mark.slow
def test_graded_qrels_match_ir_measures(scifact_run) -> None:
    data, recording = scifact_run
    if not recording.seen:
        beir.evaluate(recording, data)
    grades = graded(data, rankings_of(data, recording))
    assert any(1 in g.values() for g in grades.values()) and any(0 in g.values() for g in grades.values())
    again = beir.BeirData(data.name, data.docs, data.queries, grades)
    check_against_ir_measures(again, recording)
