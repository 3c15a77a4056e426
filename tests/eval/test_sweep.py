"""Sweeps: the grid is checked against Settings, drafts are reused for post-generation settings, one report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.compare import compare, load_run
from eval.dataset import load_questions
from eval.sweep import Sweep, SweepPoint, build_grid, parse_sweep, run_sweep, write_sweep
from rag.errors import ConfigError
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import clean_env

DEMO = Path(__file__).resolve().parents[2] / "eval" / "data" / "demo_questions.jsonl"
GROUNDED = str(Path(sys.executable).with_name("grounded"))


def test_parse_sweep_checks_keys_against_settings() -> None:
    assert parse_sweep(["top_k=3,5", "abstain-threshold=0.3, 0.5"]) == {
        "top_k": ["3", "5"],
        "abstain_threshold": ["0.3", "0.5"],
    }
    with pytest.raises(ConfigError, match="--sweep topk: not a setting"):
        parse_sweep(["topk=3"])
    with pytest.raises(ConfigError, match="--sweep index: does not change"):
        parse_sweep(["index=/tmp"])
    with pytest.raises(ConfigError, match="KEY=V1,V2"):
        parse_sweep(["top_k"])
    with pytest.raises(ConfigError, match="given twice"):
        parse_sweep(["top_k=3", "top_k=5"])


def test_build_grid_types_values_and_names_the_bad_one() -> None:
    grid = build_grid(Settings(), parse_sweep(["top_k=3,5", "verify_policy=flag,strict"]))
    assert [values for values, _ in grid] == [
        {"top_k": 3, "verify_policy": "flag"},
        {"top_k": 3, "verify_policy": "strict"},
        {"top_k": 5, "verify_policy": "flag"},
        {"top_k": 5, "verify_policy": "strict"},
    ]
    assert grid[3][1].top_k == 5 and grid[3][1].verify_policy == "strict"
    with pytest.raises(ConfigError, match="--sweep top_k=many: top_k input should be a valid integer"):
        build_grid(Settings(), {"top_k": ["3", "many"]})
    with pytest.raises(ConfigError, match="--sweep verify_policy=lenient"):
        build_grid(Settings(), {"verify_policy": ["lenient"]})
    with pytest.raises(ConfigError, match=r"combination top_k=40 candidates=20: .*cannot exceed"):
        build_grid(Settings(), {"top_k": ["40"], "candidates": ["20"]})


def _point(answer: float | None, refusal: float | None) -> SweepPoint:
    summary = {"answer_accuracy": answer, "refusal_accuracy": refusal}
    return SweepPoint({"x": (answer, refusal)}, Settings(), (), summary)


def test_pareto_front_and_best_by_the_worse_of_two() -> None:
    sweep = Sweep(
        ("x",),
        (_point(0.9, 0.3), _point(0.7, 0.7), _point(0.6, 0.6), _point(0.5, 0.9), _point(0.7, 0.65)),
        0,
    )
    assert sweep.pareto() == [0, 1, 3]  # (0.6, 0.6) and (0.7, 0.65) are dominated by (0.7, 0.7)
    assert sweep.best() == 1
    ties = Sweep(("x",), (_point(0.6, 0.8), _point(0.9, 0.6)), 0)
    assert ties.best() == 1  # same worse (0.6): the larger sum wins
    only_answerable = Sweep(("x",), (_point(0.5, None), _point(0.8, None)), 0)
    assert only_answerable.best() == 1 and only_answerable.points[1].worse == 0.8


@pytest.mark.slow
def test_real_sweep_reuses_drafts_and_matches_direct_runs(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6 demo questions × top_k {3, 5} × abstain_threshold {0.3, 0.5}: 12 drafts for 24 answers, same answers."""
    questions = load_questions(DEMO)
    six = [q for q in questions if q.answerable][:3] + [q for q in questions if not q.answerable][:3]
    calls: list[str] = []
    real_draft = Pipeline.draft

    def counting(self: Pipeline, question: str, history: tuple[str, ...] = ()) -> object:
        calls.append(question)
        return real_draft(self, question, history)

    monkeypatch.setattr(Pipeline, "draft", counting)
    axes = parse_sweep(["top_k=3,5", "abstain_threshold=0.3,0.5"])
    sweep = run_sweep(pipeline, six, axes)
    assert len(calls) == sweep.drafts == 6 * 2  # one draft per question per top_k; thresholds re-applied
    assert len(sweep.points) == 4 and all(len(p.records) == 6 for p in sweep.points)

    monkeypatch.setattr(Pipeline, "draft", real_draft)
    for p in sweep.points[2:]:  # top_k=5: re-applying a threshold gives exactly what a fresh run at it gives
        direct = pipeline.with_settings(top_k=p.values["top_k"], abstain_threshold=p.values["abstain_threshold"])
        for q, rec in zip(six, p.records, strict=True):
            answer = direct.ask(q.question)
            assert (rec["answer"], rec["abstained"]) == (answer.text, answer.abstained), (p.label, q.id)
            assert rec["score"] == answer.trace.generation["evidence"]
            assert rec["trace"]["generation"]["threshold"] == p.values["abstain_threshold"]
    low, high = (next(p for p in sweep.points if p.values == {"top_k": 5, "abstain_threshold": t}) for t in (0.3, 0.5))
    assert sum(r["abstained"] for r in high.records) >= sum(r["abstained"] for r in low.records)
    print({p.label: (p.summary["answer_accuracy"], p.summary["refusal_accuracy"]) for p in sweep.points})

    write_sweep(tmp_path / "sweep", sweep)
    html = (tmp_path / "sweep" / "report.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html and "https://" not in html
    assert "Best by the worse of answer and refusal accuracy" in html
    data = json.loads((tmp_path / "sweep" / "sweep.json").read_text(encoding="utf-8"))
    assert data["drafts"] == 12 and len(data["rows"]) == 4 and sum(r["best"] for r in data["rows"]) == 1
    assert any(r["pareto"] for r in data["rows"])
    folders = sorted(p.name for p in (tmp_path / "sweep" / "settings").iterdir())
    assert folders == sorted(p.slug for p in sweep.points)
    assert all((tmp_path / "sweep" / "settings" / f / "results.jsonl").is_file() for f in folders)

    # The settings' folders compare like any two runs: flips are the questions whose verdict the threshold changed.
    cmp = compare([load_run(tmp_path / "sweep" / "settings" / p.slug) for p in (low, high)], plots=False)
    expected = [a["id"] for a, b in zip(low.records, high.records, strict=True) if a["correct"] != b["correct"]]
    assert [f.id for f in cmp.flips] == expected
    assert len(cmp.warnings) == 1 and "abstain_threshold (0.3 → 0.5)" in cmp.warnings[0]


@pytest.mark.slow
def test_real_sweep_of_the_policy_reuses_the_generation(pipeline: Pipeline) -> None:
    questions = load_questions(DEMO)[:2]
    sweep = run_sweep(pipeline, questions, parse_sweep(["verify_policy=flag,drop,strict", "support_threshold=0.5,0.7"]))
    assert sweep.drafts == 2 and len(sweep.points) == 6
    assert {p.records[0]["policy"] for p in sweep.points} == {"flag", "drop", "strict"}


@pytest.mark.slow
def test_cli_sweep_names_a_bad_key_before_loading_models(tmp_path: Path) -> None:
    out = subprocess.run(
        [GROUNDED, "eval", str(DEMO), "--index", str(tmp_path / "none"), "--sweep", "top_k=3", "--sweep", "tpo_k=1"],
        capture_output=True, text=True, env=clean_env(HOME=str(tmp_path)), timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--sweep tpo_k: not a setting" in lines[0], out.stderr
    assert not (tmp_path / "none").exists()
