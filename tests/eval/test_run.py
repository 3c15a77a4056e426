from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from eval.dataset import load_questions
from eval.metrics import bootstrap_interval, operating_point, risk_coverage, wilson_interval
from eval.run import (
    git_revision,
    intervals_for,
    load_run,
    machine,
    now_iso,
    run_record,
    sha256_path,
    with_intervals,
    write_run,
)
from eval.runner import run
from tests.conftest import DEMO_FILES

DATA = Path(__file__).resolve().parents[2] / "eval" / "data" / "demo_questions.jsonl"
RUN_FILES = ("results.jsonl", "summary.json", "run.json", "report.html", "report.md")


def short_set(tmp_path: Path) -> Path:
    """4 answerable + 2 unanswerable demo questions, each tagged with a type (the demo file has none)."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked = [r for r in rows if r["answerable"]][:4] + [r for r in rows if not r["answerable"]][:2]
    for r in picked:
        r["type"] = "in-corpus" if r["answerable"] else "off-topic"
    path = tmp_path / "short.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return path


# --- intervals on known inputs --------------------------------------------------------------------
def test_wilson_interval_for_8_of_10() -> None:
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)  # the textbook Wilson 95% interval of 8/10
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(10, 10)[0] < 1.0


def test_bootstrap_interval_is_seeded_and_brackets_the_mean() -> None:
    values = [0.0, 0.2, 0.9, 1.0, 0.4, 0.7, 0.1, 0.8]
    a = bootstrap_interval(values, seed=7)
    assert a == bootstrap_interval(values, seed=7)  # deterministic with a seed
    assert a != bootstrap_interval(values, seed=8)
    lo, hi = a
    assert lo < sum(values) / len(values) < hi
    assert lo >= 0.0 and hi <= 1.0
    assert bootstrap_interval([0.5] * 6) == (0.5, 0.5)
    assert all(math.isnan(v) for v in bootstrap_interval([]))
    narrow = bootstrap_interval(values * 25, seed=7)  # more data, narrower interval
    assert narrow[1] - narrow[0] < hi - lo


def test_risk_coverage_and_operating_point() -> None:
    scores = [0.9, 0.8, 0.8, 0.3, 0.1]
    correct = [True, False, True, True, False]
    assert risk_coverage(scores, correct) == [(0.9, 0.2, 1.0), (0.8, 0.6, 2 / 3), (0.3, 0.8, 0.75), (0.1, 1.0, 0.6)]
    assert operating_point(scores, correct, 0.5) == (0.6, 2 / 3)
    assert operating_point(scores, correct, 0.95) == (0.0, None)
    with pytest.raises(ValueError):
        risk_coverage([0.1], [])


def test_intervals_for_question_records_are_wilson_of_the_counts() -> None:
    records = [
        {
            "answerable": True,
            "correct": i < 8,
            "abstained": i >= 9,
            "citation_supported": True,
            "source_hit": True,
            "passage_hit": i < 9,
            "citation_precision": 1.0,
            "citation_recall": 0.5 + i / 20,
        }
        for i in range(10)
    ] + [
        {
            "answerable": False,
            "correct": True,
            "abstained": True,
            "citation_supported": False,
            "source_hit": False,
            "passage_hit": False,
            "citation_precision": None,
            "citation_recall": None,
        }
    ] * 4
    iv = intervals_for("questions", records)
    assert iv["answer_accuracy"] == [round(x, 4) for x in wilson_interval(8, 10)]
    assert iv["refusal_accuracy"] == [round(x, 4) for x in wilson_interval(4, 4)]
    assert iv["false_refusal_rate"] == [round(x, 4) for x in wilson_interval(1, 10)]
    assert iv["citation_support"] == [round(x, 4) for x in wilson_interval(9, 9)]  # over the answered
    assert iv["overall_accuracy"] == [round(x, 4) for x in wilson_interval(12, 14)]
    assert iv["citation_precision"] == [1.0, 1.0]
    lo, hi = iv["citation_recall"]
    assert lo < 0.725 < hi
    assert with_intervals("questions", records, {"answer_accuracy": 0.8})["intervals"] == iv
    kept = with_intervals("questions", records, {"intervals": {"x": [0, 1]}})
    assert kept["intervals"] == {"x": [0, 1]}


def test_intervals_for_squad_and_beir_records() -> None:
    squad = [
        {"has_answer": True, "exact": 1.0, "f1": 1.0, "contains": True, "abstained": False},
        {"has_answer": True, "exact": 0.0, "f1": 0.5, "contains": False, "abstained": False},
        {"has_answer": False, "exact": 1.0, "f1": 1.0, "contains": None, "abstained": True},
    ]
    iv = intervals_for("squad", squad)
    assert iv["HasAns.accuracy"] == [round(x, 4) for x in wilson_interval(1, 2)]
    assert iv["NoAns.accuracy"] == [round(x, 4) for x in wilson_interval(1, 1)]
    assert iv["HasAns.f1"][0] >= 0.5 and iv["HasAns.f1"][1] <= 1.0
    beir = [
        {"query_id": str(i), "relevant": {"d": 1}, "pipeline": {"top10": ["d"], "ndcg@10": i / 4, "recall@10": 1.0}}
        for i in range(5)
    ]
    iv = intervals_for("beir", beir)
    assert set(iv) == {"pipeline.ndcg@10", "pipeline.recall@10"}
    assert iv["pipeline.recall@10"] == [1.0, 1.0]
    assert iv["pipeline.ndcg@10"][0] < 0.5 < iv["pipeline.ndcg@10"][1]


# --- run.json ------------------------------------------------------------------------------------------
def test_sha256_path_of_file_and_folder(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    assert sha256_path(f) == hashlib.sha256(b"hello").hexdigest()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_bytes(b"x")
    first = sha256_path(tmp_path)
    assert first == sha256_path(tmp_path)
    (tmp_path / "sub" / "b.txt").write_bytes(b"y")
    assert sha256_path(tmp_path) != first


def test_run_record_has_every_field(demo_index, tmp_path: Path) -> None:
    started = now_iso()
    info = run_record(demo_index, DATA, "questions", "strict", started, extra={"note": "x"})
    for key in (
        "format",
        "policy",
        "dataset",
        "settings",
        "index",
        "packages",
        "git_revision",
        "machine",
        "started",
        "ended",
        "seconds",
    ):
        assert key in info, key
    assert info["format"] == "questions" and info["policy"] == "strict" and info["note"] == "x"
    assert info["dataset"] == {"path": str(DATA.resolve()), "sha256": hashlib.sha256(DATA.read_bytes()).hexdigest()}
    assert info["settings"]["abstain_threshold"] == demo_index.abstain_threshold
    assert info["settings"]["index"] == str(demo_index.index)
    idx = info["index"]
    assert len(idx["digest"]) == 64
    assert sorted(Path(d["path"]).name for d in idx["documents"]) == [f.name for f in DEMO_FILES]
    assert all(d["chunks"] > 0 and d["content_hash"] for d in idx["documents"])
    assert run_record(demo_index, DATA, "questions", "strict", started)["index"]["digest"] == idx["digest"]
    assert info["packages"]["numpy"] and info["packages"]["matplotlib"]
    assert info["git_revision"] == git_revision() and info["git_revision"]
    assert info["machine"]["cores"] >= 1 and info["machine"]["cpu_model"]
    assert info["started"] <= info["ended"] and info["seconds"] >= 0
    json.dumps(info)  # serialisable


def test_run_record_masks_secrets(demo_index) -> None:
    settings = demo_index.with_overrides(openai_api_key="sk-very-secret")
    text = json.dumps(run_record(settings, DATA, "questions", "strict", now_iso()))
    assert "sk-very-secret" not in text


def test_machine_reads_the_cpu_model() -> None:
    m = machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "model name" in cpuinfo.read_text():
        line = next(x for x in cpuinfo.read_text().splitlines() if x.startswith("model name"))
        assert m["cpu_model"] == line.split(":", 1)[1].strip()


# --- a real short run -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_short_real_run_writes_the_whole_folder(pipeline, tmp_path: Path) -> None:
    """6 demo questions through the real pipeline: all five files, the plots beside report.md, records with traces."""
    questions = load_questions(short_set(tmp_path))
    assert {q.type for q in questions} == {"in-corpus", "off-topic"}
    started = now_iso()
    records, summary = run(pipeline, questions)[pipeline.settings.verify_policy]
    out = tmp_path / "run"
    written = write_run(
        out,
        records,
        summary,
        run_record(pipeline.settings, tmp_path / "short.jsonl", "questions", pipeline.settings.verify_policy, started),
    )
    for name in RUN_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert {"metrics.png", "risk_coverage.png", "latency.png", "types.png"} <= set(pngs)
    for p in (out / "plots").glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "](plots/risk_coverage.png)" in md and "](plots/latency.png)" in md

    back, summary_back, info = load_run(out)
    assert len(back) == 6 and info["format"] == "questions"
    assert summary_back["intervals"] == written["intervals"]
    lo, hi = summary_back["intervals"]["answer_accuracy"]
    assert lo <= summary_back["answer_accuracy"] <= hi
    for r in back:
        assert r["type"] in ("in-corpus", "off-topic")
        assert isinstance(r["score"], float)  # the extractive evidence
        assert r["timings"]["total"] > 0 and "generate" in r["timings"]
        assert r["trace"]["question"] == r["question"] and r["trace"]["lists"]
        assert r["correct_if_answered"] in (True, False)
        if not r["answerable"]:
            assert r["correct_if_answered"] is False
        elif not r["abstained"]:
            assert r["correct_if_answered"] == r["correct"]
        for key in ("id", "answer", "abstained", "correct", "citations", "sentences", "latency_ms"):
            assert key in r  # the fields records always had


@pytest.mark.slow
def test_cli_eval_out_writes_the_run_folder(demo_index, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`grounded eval FILE --out DIR` (in-process) writes the five files and a run.json naming the dataset."""
    from ui.cli import main

    data = short_set(tmp_path)
    out = tmp_path / "a"
    assert main(["eval", str(data), "--index", str(demo_index.index), "--out", str(out)]) == 0
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    info = json.loads((out / "run.json").read_text())
    assert info["dataset"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert info["format"] == "questions" and info["index"]["path"] == str(demo_index.index)
    captured = capsys.readouterr()
    assert "6/6" in captured.err  # the tqdm bar
    assert "report.html" in captured.out


@pytest.mark.slow
def test_cli_beir_and_squad_out_write_the_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--format beir` and `--format squad` with `--out` write the same five files (tiny real datasets)."""
    from ui.cli import main

    beir = tmp_path / "tiny" / "beir"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "Zheng Nanning lectured the Politburo on AI.", "d2": "Mars has two moons.", "d3": "Ethanol boils."}
    (beir / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in docs.items()))
    queries = {"q1": "Who lectured the Politburo on AI?", "q2": "How many moons does Mars have?"}
    (beir / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    out = tmp_path / "beir_run"
    assert main(["eval", "--format", "beir", str(beir), "--index", str(tmp_path / "bidx"), "--out", str(out)]) == 0
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert (out / "plots" / "beir_at_k.png").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pipeline"]["recall@10"] == 1.0 and summary["intervals"]["pipeline.recall@10"] == [1.0, 1.0]
    assert json.loads((out / "run.json").read_text())["format"] == "beir"

    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Zheng Nanning gave the lecture. It was held on April 25.",
                        "qas": [
                            {
                                "id": "s1",
                                "question": "Who gave the lecture?",
                                "is_impossible": False,
                                "answers": [{"text": "Zheng Nanning", "answer_start": 0}],
                            },
                            {
                                "id": "s2",
                                "question": "What is the boiling point of ethanol?",
                                "is_impossible": True,
                                "answers": [],
                            },
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad))
    out = tmp_path / "squad_run"
    assert main(["eval", "--format", "squad", str(path), "--sample", "2", "--out", str(out)]) == 0
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert "HasAns.f1" in summary["intervals"] and summary["questions"] == 2
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert all("trace" in r and "score" in r for r in records)
    capsys.readouterr()
