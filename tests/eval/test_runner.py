from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import load_questions
from eval.runner import format_summary, run, write_reports

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "eval" / "data" / "demo_questions.jsonl"


def test_demo_set_meets_targets(pipeline, tmp_path: Path) -> None:
    """The shipped calibration holds: ≥ 80% answer accuracy and ≥ 80% refusal on our own set."""
    records, summary = run(pipeline, load_questions(DATA))
    assert summary["answer_accuracy"] >= 0.8
    assert summary["refusal_accuracy"] >= 0.8
    assert summary["citation_support"] >= 0.9
    write_reports(tmp_path, records, summary)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == summary["questions"] == len(records)
    assert json.loads((tmp_path / "summary.json").read_text())["answer_accuracy"] == summary["answer_accuracy"]
    assert "answer accuracy" in format_summary(summary)
