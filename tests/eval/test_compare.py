"""Comparing runs: the paired tests on known inputs, compare on run folders written here, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binomtest

from eval.compare import compare, load_run, risk_coverage, write_comparison
from eval.stats import mcnemar_exact, mcnemar_paired, paired_bootstrap
from rag.errors import DatasetError
from tests.conftest import clean_env

GROUNDED = str(Path(sys.executable).with_name("grounded"))


# --- statistics -------------------------------------------------------------------------------
def test_mcnemar_exact_known_tables() -> None:
    # b=1, c=6: two-sided exact p = 2 * P(X <= 1 | n=7, 1/2) = 2 * 8/128.
    assert mcnemar_exact(1, 6).p_value == pytest.approx(0.125)
    # b=2, c=8: 2 * (1 + 10 + 45) / 1024.
    assert mcnemar_exact(2, 8).p_value == pytest.approx(112 / 1024)
    assert mcnemar_exact(8, 2).p_value == pytest.approx(112 / 1024)  # symmetric
    assert mcnemar_exact(0, 0).p_value == 1.0
    assert mcnemar_exact(5, 5).p_value == 1.0
    assert mcnemar_exact(0, 12).p_value == pytest.approx(binomtest(0, 12, 0.5).pvalue)


def test_mcnemar_paired_counts_only_discordant_pairs() -> None:
    a = [True, True, False, False, True, False]
    b = [True, False, True, True, True, False]
    t = mcnemar_paired(a, b)
    assert (t.b, t.c) == (1, 2)
    with pytest.raises(ValueError):
        mcnemar_paired([True], [True, False])


def test_paired_bootstrap_is_seeded_and_centred_on_the_mean_difference() -> None:
    a = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2, 0.4, 0.6]
    b = [0.2, 0.5, 1.0, 0.35, 0.7, 0.4, 0.45, 0.6]
    one, two = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert one == two  # deterministic
    assert one.delta == pytest.approx(sum(b) / len(b) - sum(a) / len(a))
    assert one.low <= one.delta <= one.high
    assert one.low >= 0.0  # no pair got worse: no resample can go below zero
    assert paired_bootstrap(a, b, seed=4) != one  # the seed matters
    same = paired_bootstrap(a, a)
    assert (same.delta, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    shifted = paired_bootstrap([0.0] * 30, [1.0] * 30)
    assert shifted.p_value == 0.0 and shifted.low == shifted.high == 1.0


# --- run folders ------------------------------------------------------------------------------
def _records(flipped: frozenset[str] | set[str] = frozenset(), ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Six answerable and four unanswerable questions; the run gets the `flipped` ones the other way round."""
    out = []
    for i, qid in enumerate(ids or [f"q{i:02d}" for i in range(10)]):
        answerable = i < 6
        right = (i % 3 != 2) != (qid in flipped)
        abstained = right if not answerable else (not right and i % 2 == 0)
        out.append(
            {
                "id": qid,
                "question": f"Question <b>{qid}</b> | piped?",
                "answerable": answerable,
                "gold": ["gold " + qid] if answerable else [],
                "answer": ("The documents don't say." if abstained else f"answer to {qid} [1]"),
                "abstained": abstained,
                "correct": right,
                "citation_precision": None if abstained else 0.5 + 0.05 * i,
                "citation_recall": None if abstained else 1.0,
                "latency_ms": 20.0 + i,
                "score": 0.9 - 0.07 * i,
            }
        )
    return out


def _write_run(
    folder: Path,
    records: list[dict[str, Any]],
    sha: str | None = "a" * 64,
    digest: str = "d" * 16,
    settings: dict[str, Any] | None = None,
) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps({"questions": len(records)}), encoding="utf-8")
    if sha is not None:
        meta = {
            "settings": settings or {"top_k": 5, "abstain_threshold": 0.39, "generator": "extractive"},
            "index": {"digest": digest, "documents": ["a.txt"]},
            "dataset": {"path": "q.jsonl", "sha256": sha},
        }
        (folder / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def test_compare_lists_flips_with_both_answers_and_writes_the_report(tmp_path: Path) -> None:
    a = _write_run(tmp_path / "a", _records())
    b = _write_run(tmp_path / "b", _records(flipped={"q01", "q02", "q07"}))
    cmp = compare([load_run(a), load_run(b)])
    assert sorted(f.id for f in cmp.flips) == ["q01", "q02", "q07"]
    q01 = next(f for f in cmp.flips if f.id == "q01")
    assert (q01.right_a, q01.right_b) == (True, False)
    assert q01.answer_a == "answer to q01 [1]" and q01.answer_b == "answer to q01 [1]"
    q02 = next(f for f in cmp.flips if f.id == "q02")
    assert (q02.right_a, q02.right_b) == (False, True)
    assert q02.answer_a == "The documents don't say." and q02.answer_b == "answer to q02 [1]"
    assert cmp.warnings == ()

    rows = {r.name: r for r in cmp.metrics}
    acc = rows["answer_accuracy"]
    assert acc.test == "McNemar (exact)"
    assert acc.values == pytest.approx((4 / 6, 4 / 6))  # one lost (q01), one won (q02)
    assert acc.p_values[0] == pytest.approx(1.0)
    assert rows["refusal_accuracy"].values[1] - rows["refusal_accuracy"].values[0] == pytest.approx(
        rows["refusal_accuracy"].deltas[0]
    )
    assert rows["latency_ms"].test == "paired bootstrap" and rows["latency_ms"].deltas[0] == pytest.approx(0.0)
    assert "citation_precision" in rows

    written = write_comparison(tmp_path / "cmp", cmp)
    html = (tmp_path / "cmp" / "report.html").read_text(encoding="utf-8")
    md = (tmp_path / "cmp" / "report.md").read_text(encoding="utf-8")
    assert "Question &lt;b&gt;q07&lt;/b&gt;" in html and "<b>q07</b>" not in html  # autoescaped
    assert 'src="data:image/png;base64,' in html
    assert "http://" not in html and "https://" not in html and "<script" not in html  # self-contained
    assert {p.name for p in written} >= {"report.html", "report.md", "risk_coverage.png", "latency_cdf.png"}
    assert (tmp_path / "cmp" / "plots" / "risk_coverage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Flipped verdicts (3)" in md and "&lt;b&gt;q07&lt;/b&gt; \\| piped?" in md  # escaped cells
    assert "![risk_coverage.png](plots/risk_coverage.png)" in md


def test_risk_coverage_follows_the_score_order() -> None:
    recs = _records()
    cov, acc = risk_coverage(recs)
    assert cov[-1] == 1.0 and len(cov) == len(recs)
    assert acc[0] == 1.0  # the best-scored question (q00) is answered right
    assert acc[-1] == pytest.approx(4 / 10)  # q00, q01, q03, q04 answered right; all others wrong or refused


def test_different_datasets_are_refused_by_sha_or_by_question_ids(tmp_path: Path) -> None:
    a = load_run(_write_run(tmp_path / "a", _records()))
    other_sha = load_run(_write_run(tmp_path / "b", _records(), sha="b" * 64))
    with pytest.raises(DatasetError, match=r"different datasets .*sha256 aaaaaaaaaaaa… vs bbbbbbbbbbbb"):
        compare([a, other_sha])
    no_meta_a = load_run(_write_run(tmp_path / "c", _records(), sha=None))
    other_ids = load_run(_write_run(tmp_path / "d", _records(ids=[f"x{i}" for i in range(10)]), sha=None))
    with pytest.raises(DatasetError, match=r"different datasets .*10 question id.*only in the first"):
        compare([no_meta_a, other_ids])
    same_ids = load_run(_write_run(tmp_path / "e", _records(flipped={"q00"}), sha=None))
    assert len(compare([no_meta_a, same_ids], plots=False).flips) == 1


def test_a_different_index_or_settings_is_a_warning_naming_the_keys(tmp_path: Path) -> None:
    a = load_run(_write_run(tmp_path / "a", _records()))
    b = load_run(
        _write_run(
            tmp_path / "b",
            _records(),
            digest="e" * 16,
            settings={"top_k": 3, "abstain_threshold": 0.39, "generator": "extractive"},
        )
    )
    cmp = compare([a, b], plots=False)
    assert len(cmp.warnings) == 2
    assert "another index" in cmp.warnings[0] and "dddddddddddd" in cmp.warnings[0]
    assert "settings: top_k (5 → 3)" in cmp.warnings[1] and "abstain_threshold" not in cmp.warnings[1]


def test_missing_run_folder_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="grounded eval FILE --out"):
        load_run(tmp_path / "nothing")
    _write_run(tmp_path / "multi" / "strict", _records())
    with pytest.raises(DatasetError, match=r"one run per policy .*strict"):
        load_run(tmp_path / "multi")


@pytest.mark.slow
def test_cli_eval_compare(tmp_path: Path) -> None:
    a = _write_run(tmp_path / "a", _records())
    b = _write_run(tmp_path / "b", _records(flipped={"q03"}), settings={"top_k": 8})
    env = clean_env(HOME=str(tmp_path))
    out = subprocess.run(
        [GROUNDED, "eval", "compare", str(a), str(b), "--out", str(tmp_path / "cmp")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "flipped verdicts: 1" in out.stdout and "q03" in out.stdout
    assert "grounded: warning:" in out.stderr and "top_k" in out.stderr
    assert (tmp_path / "cmp" / "report.html").is_file() and (tmp_path / "cmp" / "report.md").is_file()

    c = _write_run(tmp_path / "c", _records(), sha="c" * 64)
    bad = subprocess.run(
        [GROUNDED, "eval", "compare", str(a), str(c)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "different datasets" in lines[0] and "same question file" in lines[0]
    assert "Traceback" not in bad.stderr
