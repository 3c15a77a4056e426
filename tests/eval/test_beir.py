"""The BEIR runner on a tiny BEIR folder the test writes; real index, real model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.beir import evaluate, format_table, load_beir, to_docs
from eval.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from rag.errors import DatasetError
from rag.types import Chunk, Hit, RankedList

DOCS = {
    "d1": ("Zebra stripes", "Zebras have stripes that deter biting flies such as tsetse and horseflies."),
    "d2": ("Panda diet", "Giant pandas eat bamboo almost exclusively, up to 14 kilograms a day."),
    "d3": ("Koala sleep", "Koalas sleep up to twenty hours a day to save energy from their eucalyptus diet."),
    "d4": ("Bee dances", "Honey bees perform a waggle dance to tell nest mates where flowers are."),
}
QUERIES = {"q1": "why do zebras have stripes", "q2": "what do pandas eat", "q3": "how long do koalas sleep"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d3", 2)]


def write_beir(folder: Path, splits: tuple[str, ...] = ("test",)) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in DOCS.items())
    )
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in QUERIES.items()))
    for split in splits:
        (folder / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS)
        )
    return folder


def test_ranking_metrics_by_hand() -> None:
    rel = {"a": 1, "b": 2}
    # DCG = 0/log2(2) + 1/log2(3) + 2/log2(4); IDCG = 2/log2(2) + 1/log2(3)
    assert ndcg_at_k(["x", "a", "b"], rel, 10) == pytest.approx((1 / 1.5849625 + 1) / (2 + 1 / 1.5849625))
    assert ndcg_at_k(["b", "a"], rel, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], {}, 10) == 0.0
    assert recall_at_k(["x", "a"], rel, 1) == 0.0 and recall_at_k(["x", "a"], rel, 2) == 0.5
    assert mrr_at_k(["x", "y", "b"], rel, 10) == pytest.approx(1 / 3) and mrr_at_k(["x", "b"], rel, 1) == 0.0


def test_chunks_map_to_documents_by_best_rank() -> None:
    def hit(doc: str, rank: int) -> Hit:
        return Hit(Chunk(f"{doc}-{rank}", f"beir/sci/{doc}", 0, 1, "t"), rank, 1.0 / rank)

    lst = RankedList("dense", (hit("d2", 1), hit("d1", 2), hit("d2", 3), hit("d3", 4)))
    assert to_docs(lst, "sci") == ["d2", "d1", "d3"]


def test_load_beir_and_its_errors(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "zoo"), "test")
    assert data.name == "zoo" and len(data.docs) == 4 and set(data.queries) == {"q1", "q2", "q3"}
    assert data.qrels["q3"] == {"d3": 2}
    assert data.docs[0].metadata["title"] == "Zebra stripes" and str(data.docs[0].path) == "beir/zoo/d1"
    with pytest.raises(DatasetError, match="choose --split from test"):
        load_beir(tmp_path / "zoo", "train")
    with pytest.raises(DatasetError, match="no BEIR folder"):
        load_beir(tmp_path / "nope", "test")


@pytest.mark.slow
def test_evaluate_every_list_on_a_tiny_corpus(tmp_path: Path) -> None:
    from ingest.indexer import ingest_documents
    from rag.pipeline import Pipeline
    from rag.settings import Settings

    data = load_beir(write_beir(tmp_path / "zoo"), "test")
    settings = Settings(index=tmp_path / "idx", candidates=10, top_k=3)
    ingest_documents(data.docs, settings, progress=False)
    records, summary = evaluate(Pipeline.from_settings(settings), data)
    assert set(summary) == {"dense", "bm25", "pipeline"}
    assert summary["pipeline"]["ndcg@10"] == pytest.approx(1.0)  # each query has one obvious answer
    assert summary["pipeline"]["queries"] == 3
    assert records[0]["pipeline"]["top10"][0] == "d1"
    assert "recall@100" in format_table(summary)


@pytest.mark.slow
def test_cli_writes_summary_in_the_documented_shape(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "zoo")
    grounded = str(Path(sys.executable).with_name("grounded"))
    out = subprocess.run(
        [
            grounded,
            "eval",
            "--format",
            "beir",
            str(folder),
            "--index",
            str(tmp_path / "idx"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    for name in ("pipeline", "dense", "bm25"):
        assert {"ndcg@10", "recall@10", "recall@100", "mrr@10"} <= set(summary[name])
    assert len((tmp_path / "o" / "queries.jsonl").read_text().splitlines()) == 3
    assert "ndcg@10" in out.stdout
