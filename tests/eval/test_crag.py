"""eval/crag.py: CRAG's three verdicts and score (pure), and a tiny CRAG file through the real pipeline."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import pytest

from eval import crag
from eval.crag import accurate, summarize_crag, verdict
from rag.errors import DatasetError
from rag.settings import Settings


def test_accurate_matches_whole_words_of_gold_or_alternatives() -> None:
    assert accurate("The answer is Yes.", ["yes"])
    assert not accurate("her eyes were blue", ["yes"])  # whole words, not substrings
    assert accurate("It is owned by Universal Pictures [1].", ["universal pictures"])
    assert accurate("about 3.4 km", ["two miles", "3.4 km"])  # an alternative answer
    assert not accurate("", ["yes"])
    assert not accurate("anything", [""])


def test_verdicts_and_points() -> None:
    assert verdict(True, "", ["yes"]) == "missing"
    assert verdict(False, "yes it is", ["yes"]) == "accurate"
    assert verdict(False, "no it is not", ["yes"]) == "hallucinated"
    assert crag.POINTS == {"accurate": 1, "missing": 0, "hallucinated": -1}


def test_summary_score_is_accuracy_minus_hallucination() -> None:
    def rec(v: str, t: str) -> dict:
        return {"verdict": v, "points": crag.POINTS[v], "type": t, "latency_ms": 1.0}

    records = [rec("accurate", "simple"), rec("accurate", "set"), rec("hallucinated", "set"), rec("missing", "simple")]
    s = summarize_crag(records)
    o = s["overall"]
    assert (o["accurate"]["k"], o["hallucinated"]["k"], o["missing"]["k"]) == (2, 1, 1)
    assert o["score"] == pytest.approx(o["accurate"]["rate"] - o["hallucinated"]["rate"]) == 0.25
    assert s["by_type"]["set"]["score"] == 0.0 and s["by_type"]["simple"]["score"] == 0.5
    assert s["metrics"]["score"] == 0.25
    lo, hi = s["intervals"]["accurate"]
    assert lo < 0.5 < hi


def test_load_crag_reads_bz2_and_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.bz2"
    row = {"interaction_id": "a", "query": "q", "answer": "yes", "alternative_answers": ["y"], "search_results": []}
    with bz2.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    (q,) = crag.load_crag(path)
    assert (q.id, q.answer, q.alternatives, q.pages) == ("a", "yes", ("y",), ())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="not a CRAG record"):
        crag.load_crag(bad)


# --- the real pipeline on a tiny file -----------------------------------------------------------------
def page(title: str, *paragraphs: str) -> dict:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"
    return {"page_name": title, "page_url": f"https://example.org/{title}", "page_snippet": "", "page_result": html}


BREAD = [
    "Bake the bread for forty minutes until the crust is golden brown.",
    "Knead the dough gently and let it rest under a damp towel for an hour.",
]


def write_crag_file(path: Path) -> Path:
    rows = [
        {  # answerable from its pages: accurate
            "interaction_id": "capital",
            "query": "What is the capital city of Freedonia?",
            "answer": "Zentra",
            "alternative_answers": ["Zentra City"],
            "question_type": "simple",
            "search_results": [
                page("Freedonia", "The capital city of Freedonia is Zentra, on the river Oll.", *BREAD),
                {**page("Empty"), "page_result": ""},  # no page (as in CRAG): skipped, the others are kept
            ],
        },
        {  # the pages name another founder: hallucinated
            "interaction_id": "founder",
            "query": "Who founded Acme Rockets?",
            "answer": "Jane Doe",
            "alternative_answers": [],
            "question_type": "simple",
            "search_results": [page("Acme Rockets", "Acme Rockets was founded by John Smith in 1990 in Ohio.")],
        },
        {  # nothing relevant: missing
            "interaction_id": "moon",
            "query": "How many moons does the planet Zorblax have?",
            "answer": "seven",
            "alternative_answers": [],
            "question_type": "simple",
            "search_results": [page("Bread", *BREAD)],
        },
    ]
    with bz2.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


@pytest.mark.slow
def test_crag_on_the_real_pipeline(tmp_path: Path) -> None:
    path = write_crag_file(tmp_path / "tiny.jsonl.bz2")
    settings = Settings(index=tmp_path / "unused-index")
    records, summary = crag.run_file(path, settings)
    assert not (tmp_path / "unused-index").exists()  # each question gets its own temporary index
    by = {r["id"]: r for r in records}
    assert by["capital"]["pages_indexed"] == ["page1.html"]
    assert len(by["capital"]["pages_skipped"]) == 1
    assert by["capital"]["citations"] and by["capital"]["citations"][0]["source"].endswith("page1.html")
    assert by["capital"]["verdict"] == "accurate", by["capital"]["answer"]
    assert by["founder"]["verdict"] == "hallucinated", by["founder"]["answer"]
    assert "John Smith" in by["founder"]["prediction"]
    assert by["moon"]["verdict"] == "missing", by["moon"]["answer"]
    o = summary["overall"]
    assert (o["accurate"]["k"], o["hallucinated"]["k"], o["missing"]["k"]) == (1, 1, 1)
    assert o["score"] == 0.0
    print(crag.format_report(summary))

    out = tmp_path / "run"
    crag.write_run(out, records, summary, path, settings)
    assert {p.name for p in out.iterdir()} >= {"results.jsonl", "summary.json", "run.json", "report.md", "report.html"}
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["format"] == "crag"
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert written["score"] == 0.0 and written["accurate"] == pytest.approx(1 / 3)
    assert written["intervals"]["missing"][0] < 1 / 3 < written["intervals"]["missing"][1]
    assert "string match" in (out / "report.md").read_text(encoding="utf-8")
