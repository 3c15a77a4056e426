"""ui.evaluate without a browser: question sets, upload checks, the runs list, comparisons, and a real short run."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

from eval.run import write_run
from rag.errors import DatasetError, GroundedError
from rag.pipeline import Pipeline
from ui.evaluate import (
    UPLOADED,
    Evaluator,
    check_question_file,
    comparison_html,
    list_runs,
    new_run_folder,
    plots_html,
    question_sets,
    questions_file,
    run_path,
)
from ui.service import ChatService

GOOD = [
    {"id": "q1", "question": "Who?", "answerable": True, "answers": ["Ada"], "sources": ["a.txt"]},
    {"id": "q2", "question": "What is off topic?", "answerable": False, "answers": [], "sources": []},
]


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _records(ids: list[str], wrong: frozenset[str] | set[str] = frozenset()) -> list[dict[str, Any]]:
    """Answerable questions, right unless named in `wrong`."""
    return [
        {
            "id": qid,
            "question": f"Question <b>{qid}</b>?",
            "answerable": True,
            "gold": [f"gold {qid}"],
            "answer": "The documents don't say." if qid in wrong else f"gold {qid} [1]",
            "abstained": qid in wrong,
            "correct": qid not in wrong,
            "latency_ms": 10.0,
            "timings": {"retrieve": 4.0, "generate": 5.0, "total": 10.0},
            "score": 0.5,
        }
        for qid in ids
    ]


def _run(runs: Path, name: str, records: list[dict[str, Any]], sha: str, report: bool = False, **settings: Any) -> Path:
    """A run folder written by eval.run.write_run (hand-made records, run.json with a dataset sha256)."""
    right = sum(r["correct"] for r in records)
    summary = {"questions": len(records), "answer_accuracy": right / len(records)}
    run = {
        "format": "questions",
        "policy": "flag",
        "dataset": {"path": f"/srv/secret/{name}.jsonl", "sha256": sha},
        "settings": {"generator": "extractive", "top_k": 5, "abstain_threshold": 0.39, **settings},
        "index": {"digest": "d" * 16, "documents": []},
    }
    write_run(runs / name, records, summary, run, report=report)
    return runs / name


# --- question sets and uploads -----------------------------------------------------------------------------
def test_bundled_question_sets_are_the_jsonl_files_of_the_data_folder(tmp_path: Path) -> None:
    assert {"demo_questions.jsonl", "crosslingual_questions.jsonl"} <= set(question_sets())
    _jsonl(tmp_path / "b.jsonl", GOOD)
    _jsonl(tmp_path / "a.jsonl", GOOD)
    (tmp_path / "notes.txt").write_text("not a set", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    _jsonl(tmp_path / "sub" / "c.jsonl", GOOD)
    assert question_sets(tmp_path) == ["a.jsonl", "b.jsonl"]


def test_a_good_upload_gives_its_questions(tmp_path: Path) -> None:
    questions = check_question_file(_jsonl(tmp_path / "mine.jsonl", GOOD), "mine.jsonl")
    assert [q.id for q in questions] == ["q1", "q2"] and questions[1].answerable is False


@pytest.mark.parametrize(
    ("rows", "fix"),
    [
        (["{not json"], "one JSON object per line"),
        ([{"id": "q1", "question": "Who?"}], "each row needs id, question, answerable, answers, sources"),
        ([{**GOOD[0], "answerable": "yes"}], "answerable must be true or false"),
        ([GOOD[0], GOOD[0]], "duplicate id"),
        ([], "no questions in the file"),
    ],
)
def test_a_bad_upload_is_one_line_naming_the_file_not_its_server_path(
    tmp_path: Path, rows: list[Any], fix: str
) -> None:
    (tmp_path / "gradio-tmp-123").mkdir()
    path = _jsonl(tmp_path / "gradio-tmp-123" / "upload.jsonl", rows)
    with pytest.raises(DatasetError) as e:
        check_question_file(path, "mine.jsonl")
    message = str(e.value)
    assert fix in message and "\n" not in message
    assert "mine.jsonl" in message and str(tmp_path) not in message


def test_an_upload_that_is_not_utf8_says_to_save_it_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps({**GOOD[0], "question": "Qui a écrit ?"}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8 text: save it as UTF-8 JSONL"):
        check_question_file(path, "latin1.jsonl")


def test_the_questions_file_of_a_run_is_the_set_or_its_first_n_questions(tmp_path: Path) -> None:
    source = tmp_path / "set.jsonl"
    source.write_text(json.dumps(GOOD[0]) + "\n\n" + json.dumps(GOOD[1]) + "\n", encoding="utf-8")
    assert questions_file(source, tmp_path / "all.jsonl", 0) == 2
    assert (tmp_path / "all.jsonl").read_bytes() == source.read_bytes()  # same sha256 as the CLI's run of the file
    assert questions_file(source, tmp_path / "one.jsonl", 1) == 1
    assert [q.id for q in check_question_file(tmp_path / "one.jsonl")] == ["q1"]


def test_run_folders_are_named_by_time_and_set_and_never_reused(tmp_path: Path) -> None:
    when = datetime(2026, 12, 4, 5, 6, 7, tzinfo=UTC)
    first = new_run_folder(tmp_path / "runs", "my set!.jsonl", when)
    second = new_run_folder(tmp_path / "runs", "my set!.jsonl", when)
    assert first.name == "20261204-050607-my_set" and second.name == "20261204-050607-my_set-2"
    assert first.is_dir() and second.is_dir()


# --- past runs ---------------------------------------------------------------------------------------
def test_past_runs_are_listed_newest_first_with_what_they_were(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert list_runs(runs) == []  # no folder yet
    _run(runs, "20261204-050000-demo_questions", _records(["a", "b"]), "a" * 64)
    _run(runs, "20261204-060000-demo_questions", _records(["a", "b"], {"b"}), "a" * 64, top_k=3)
    (runs / "20261204-070000-half-written").mkdir()  # no results yet: not a run
    (runs / "notes.txt").write_text("x", encoding="utf-8")
    entries = list_runs(runs)
    assert [e.name for e in entries] == ["20261204-060000-demo_questions", "20261204-050000-demo_questions"]
    assert (
        entries[0].label
        == "20261204-060000-demo_questions · extractive, flag, top-k 3 · 2 questions · answer accuracy 50%"
    )


@pytest.mark.parametrize("name", ["", None, "..", "../runs", "/etc", "missing-run", ".hidden"])
def test_a_run_is_found_only_by_the_name_of_a_folder_in_the_runs_folder(tmp_path: Path, name: str | None) -> None:
    runs = tmp_path / "runs"
    _run(runs, "ok-run", _records(["a"]), "a" * 64)
    assert run_path(runs, "ok-run") == runs / "ok-run"
    with pytest.raises(DatasetError, match="pick one from the list of past runs"):
        run_path(runs, name)


def test_the_plots_of_a_run_are_its_pngs_embedded_in_report_order(tmp_path: Path) -> None:
    folder = _run(tmp_path / "runs", "with-plots", _records(["a", "b", "c"], {"c"}), "a" * 64, report=True)
    soup = BeautifulSoup(plots_html(folder), "html.parser")
    shown = [f["data-plot"] for f in soup.select("figure.g-eval-figure")]
    on_disk = {p.stem for p in (folder / "plots").glob("*.png")}
    assert {"metrics", "risk_coverage", "latency"} <= set(shown) and set(shown) == on_disk
    assert shown.index("metrics") < shown.index("risk_coverage") < shown.index("latency")
    assert all(img["src"].startswith("data:image/png;base64,") for img in soup.select("img.g-eval-plot"))
    assert "This run has no plots" in plots_html(tmp_path)


# --- comparing ---------------------------------------------------------------------------------------
def test_comparing_runs_over_different_question_sets_is_refused_by_run_name(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run(runs, "run-a", _records(["a", "b"]), "a" * 64)
    _run(runs, "run-b", _records(["a", "b"]), "b" * 64)
    with pytest.raises(DatasetError) as e:
        comparison_html(runs, "run-a", "run-b")
    message = str(e.value)
    assert "different datasets" in message and "compare runs of the same question file" in message
    assert "run-a" in message and str(runs) not in message  # the run's name, not the server's folder
    with pytest.raises(DatasetError, match="pick two different runs"):
        comparison_html(runs, "run-a", "run-a")


def test_a_comparison_shows_metrics_flipped_questions_and_setting_warnings(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run(runs, "run-a", _records(["a", "b", "c"], {"c"}), "a" * 64)
    _run(runs, "run-b", _records(["a", "b", "c"], {"a"}), "a" * 64, top_k=3)
    soup = BeautifulSoup(comparison_html(runs, "run-a", "run-b"), "html.parser")
    flipped = {tr["data-id"]: tr.get_text(" ", strip=True) for tr in soup.select("table.g-eval-flips tbody tr")}
    assert set(flipped) == {"a", "c"}
    assert "✓ gold a [1]" in flipped["a"] and "✗ The documents don't say." in flipped["a"]
    assert "Question <b>a</b>?" in flipped["a"]  # escaped: shown as text
    metrics = {
        tr.td.get_text(): [td.get_text() for td in tr.select("td")]
        for tr in soup.select("table.g-eval-metrics tbody tr")
    }
    assert metrics["answer_accuracy"][2:5] == ["66.7%", "66.7%", "+0.0 pts"]
    assert "top_k (5 → 3)" in soup.select_one(".g-eval-warning").get_text()
    assert soup.select_one("img") is not None  # the overlaid risk–coverage curves

    _run(runs, "run-c", _records(["a", "b", "c"], {"c"}), "a" * 64)
    same = BeautifulSoup(comparison_html(runs, "run-a", "run-c"), "html.parser")
    assert not same.select("table.g-eval-flips")
    assert "No question changed verdict" in same.select_one(".g-eval-no-flips").get_text()


# --- a real run (the serving pipeline over the demo index) ---------------------------------------------
@pytest.mark.slow
def test_a_short_run_writes_its_folder_reports_progress_and_opens_glass_boxes(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    ev = Evaluator(ChatService(pipeline), runs_dir=tmp_path / "runs")
    steps: list[tuple[int, int]] = []
    view = ev.run(
        "demo_questions.jsonl", None, "extractive", "strict", 3, limit=3, progress=lambda i, n: steps.append((i, n))
    )
    assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
    folder = tmp_path / "runs" / view.name
    assert view.name.endswith("-demo_questions")
    for name in ("results.jsonl", "summary.json", "run.json", "report.html", "report.md", "questions.jsonl"):
        assert (folder / name).is_file(), name
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["policy"] == "strict" and run["settings"]["top_k"] == 3 and run["limit"] == 3
    assert run["dataset"]["sha256"] == hashlib.sha256((folder / "questions.jsonl").read_bytes()).hexdigest()
    assert [r[0] for r in view.rows] == ["a01", "a02", "a03"]
    assert 'data-plot="risk_coverage"' in view.plots_html and "3 questions" in view.summary_html
    assert [e.name for e in ev.runs()] == [view.name]

    glass = BeautifulSoup(ev.glass(view.name, "a01"), "html.parser")
    assert glass.select_one(".g-eval-question")["data-id"] == "a01"
    assert glass.select_one(".g-glass-title").get_text() == "How this answer was made"
    assert glass.select_one("#g-step-timings") is not None and glass.select_one("#g-step-retrieval") is not None
    assert str(pipeline.settings.index) not in str(glass)  # document names only, never server paths
    with pytest.raises(DatasetError, match="click a row"):
        ev.glass(view.name, "nope")

    # the full set and the 3-question run are different datasets: refused
    other = ev.run("crosslingual_questions.jsonl", None, "extractive", "flag", 5, limit=2)
    with pytest.raises(DatasetError, match="different datasets"):
        ev.compare(view.name, other.name)


@pytest.mark.slow
def test_a_run_refuses_bad_choices_before_writing_anything(pipeline: Pipeline, tmp_path: Path) -> None:
    ev = Evaluator(ChatService(pipeline), runs_dir=tmp_path / "runs")
    bad = _jsonl(tmp_path / "bad.jsonl", ["{nope"])
    cases = [
        (("nope.jsonl", None, "extractive", "flag", 5), "pick one of"),
        (("../data/demo_questions.jsonl", None, "extractive", "flag", 5), "pick one of"),
        ((UPLOADED, None, "extractive", "flag", 5), "upload a JSONL question file"),
        ((UPLOADED, str(bad), "extractive", "flag", 5), "one JSON object per line"),
        (("demo_questions.jsonl", None, "gpt-9", "flag", 5), "choose one of extractive"),
        (("demo_questions.jsonl", None, "extractive", "lenient", 5), "choose one of flag"),
    ]
    for args, fix in cases:
        with pytest.raises(GroundedError, match=fix):
            ev.run(*args, limit=1)
    assert ev.runs() == [] and not any((tmp_path / "runs").glob("*/*"))
