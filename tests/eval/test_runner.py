from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import load_questions
from eval.runner import format_summary, run, write_reports

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "eval" / "data" / "demo_questions.jsonl"


def test_demo_set_meets_targets(pipeline, tmp_path: Path) -> None:
    """The shipped calibration holds under every policy: ≥ 80% answer and refusal accuracy on our own set,
    and citations the checker accepts (ALCE precision ≥ 95%)."""
    results = run(pipeline, load_questions(DATA), policies=["flag", "drop", "strict"])
    assert list(results) == ["flag", "drop", "strict"]
    for policy, (_, summary) in results.items():
        assert summary["settings"]["policy"] == policy
        assert summary["answer_accuracy"] >= 0.8, policy
        assert summary["refusal_accuracy"] >= 0.8, policy
        assert summary["citation_support"] >= 0.9, policy
        assert summary["citation_precision"] >= 0.95, policy
    records, summary = results["strict"]
    assert all("sentences" in r and r["policy"] == "strict" for r in records)
    write_reports(tmp_path, records, summary)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == summary["questions"] == len(records)
    assert json.loads((tmp_path / "summary.json").read_text())["answer_accuracy"] == summary["answer_accuracy"]
    assert "answer accuracy" in format_summary(summary)
