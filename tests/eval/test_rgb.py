"""eval/rgb.py: the paper's passage mix and matching (pure), and a tiny RGB file through the real pipeline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval import rgb
from eval.rgb import RGBQuestion, check_answer, matches, mix_counts, sample_case, summarize_rgb
from rag.errors import DatasetError
from rag.settings import Settings


def question(qid: str = "0", positives: int = 6, negatives: int = 8, wrong: int = 0) -> RGBQuestion:
    return RGBQuestion(
        id=qid,
        query="q",
        answer=(("a",),),
        positive=tuple(f"pos{i}" for i in range(positives)),
        negative=tuple(f"neg{i}" for i in range(negatives)),
        fake=(("f",),) if wrong else (),
        positive_wrong=tuple(f"wrong{i}" for i in range(wrong)),
    )


# --- sampling (pure) ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ratio", "expected"), [(0.0, (5, 0)), (0.2, (4, 1)), (0.4, (3, 2)), (0.6, (2, 3)), (0.8, (1, 4)), (1.0, (0, 5))]
)
def test_mix_counts_follow_the_paper(ratio: float, expected: tuple[int, int]) -> None:
    assert mix_counts(ratio, 10, 10) == expected


def test_mix_counts_top_up_from_the_other_pool() -> None:
    assert mix_counts(0.0, 3, 10) == (3, 2)  # too few positives: negatives fill the five
    assert mix_counts(0.8, 10, 2) == (3, 2)  # too few negatives: positives fill the five
    assert mix_counts(1.0, 10, 3) == (0, 3)  # rejection never shows a positive


@pytest.mark.parametrize("ratio", rgb.RATIOS)
def test_sample_case_mixes_each_ratio(ratio: float) -> None:
    case = sample_case(question(), f"noise_{ratio:.1f}", seed=0)
    kinds = Counter(kind for kind, _ in case.passages)
    assert (kinds["positive"], kinds["negative"]) == mix_counts(ratio, 6, 8)
    texts = [t for _, t in case.passages]
    assert len(set(texts)) == 5
    assert all(t.startswith("pos") == (k == "positive") for k, t in case.passages)


def test_sampling_is_deterministic_and_seeded() -> None:
    q = question()
    a = [sample_case(q, c, seed=7).passages for c in rgb.conditions([q])]
    b = [sample_case(q, c, seed=7).passages for c in rgb.conditions([q])]
    c = [sample_case(q, c, seed=8).passages for c in rgb.conditions([q])]
    assert a == b
    assert a != c


def test_ratios_only_swap_positives_for_negatives() -> None:
    """As RGB's first-k selection: a higher ratio keeps a subset of the lower ratio's positives."""
    q = question(positives=9, negatives=9)
    pos = {r: {t for k, t in sample_case(q, f"noise_{r:.1f}", 3).passages if k == "positive"} for r in rgb.RATIOS}
    neg = {r: {t for k, t in sample_case(q, f"noise_{r:.1f}", 3).passages if k == "negative"} for r in rgb.RATIOS}
    for lo, hi in zip(rgb.RATIOS, rgb.RATIOS[1:], strict=False):
        assert pos[hi] < pos[lo]
        assert neg[lo] < neg[hi]


def test_rejection_and_counterfactual_cases() -> None:
    q = question(wrong=3)
    assert rgb.conditions([q])[-2:] == ["rejection", "counterfactual"]
    assert {k for k, _ in sample_case(q, "rejection").passages} == {"negative"}
    assert len(sample_case(q, "rejection").passages) == 5
    cf = sample_case(q, "counterfactual").passages
    assert sorted(t for _, t in cf) == ["wrong0", "wrong1", "wrong2"]
    assert "counterfactual" not in rgb.conditions([question()])


# --- matching (pure) --------------------------------------------------------------------------------
def test_check_answer_follows_the_paper() -> None:
    parts = (("Tampa", "Tampa Bay"), ("Florida",))
    assert check_answer("It was in tampa, florida.", parts) == [1, 1]
    assert check_answer("It was in Tampa.", parts) == [1, 0]
    assert matches("In TAMPA, Florida", parts)
    assert not matches("In Tampa", parts)  # every part is needed
    assert matches("造成 12人 死亡", (("12人",),), zh=True)  # spaces removed for Chinese
    assert not matches("造成 12 人死亡", (("12人",),), zh=False)
    assert not matches("anything", ())


def test_load_rgb_reads_both_answer_shapes(tmp_path: Path) -> None:
    path = tmp_path / "x_fact.json"
    rows = [
        {"id": 1, "query": "q1", "answer": "Oslo", "fakeanswer": "Bergen", "positive": ["p"], "negative": ["n"],
         "positive_wrong": ["w"]},
        {"id": 2, "query": "q2", "answer": [["A", "a1"], "B"], "fakeanswer": ["F"], "positive": [], "negative": [],
         "positive_wrong": []},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    a, b = rgb.load_rgb(path)
    assert a.answer == (("Oslo",),) and a.fake == (("Bergen",),) and a.positive_wrong == ("w",)
    assert b.answer == (("A", "a1"), ("B",)) and b.fake == (("F",),)
    path.write_text('{"id": 1, "query": "q"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="not an RGB instance"):
        rgb.load_rgb(path)
    with pytest.raises(DatasetError, match="no RGB file"):
        rgb.load_rgb(tmp_path / "missing.json")


def test_summary_accounts_detection_fake_and_correction() -> None:
    def rec(qid: str, cond: str, **kw: bool) -> dict:
        base = {"question_id": qid, "type": cond, "correct": False, "rejected": False, "abstained": False}
        return {**base, "latency_ms": 1.0, **kw}

    records = [
        rec("1", "noise_0.0", correct=True),
        rec("2", "noise_0.0"),
        rec("1", "rejection", rejected=True, abstained=True),
        rec("2", "rejection"),
        rec("1", "counterfactual", detected=True, fake_answer=False, rejected=True, abstained=True),
        rec("2", "counterfactual", detected=False, fake_answer=True),
    ]
    s = summarize_rgb(records)
    assert s["questions"] == 2 and s["cases"] == 6
    c = s["conditions"]
    assert c["noise_0.0"]["accuracy"]["rate"] == 0.5
    assert c["rejection"]["rejection"]["rate"] == 0.5
    assert c["counterfactual"]["error_detection"]["k"] == 1
    assert c["counterfactual"]["fake_answer"]["rate"] == 0.5
    assert c["counterfactual"]["error_correction"]["rate"] == 0.0  # detected, but no true answer given
    assert s["metrics"]["accuracy@noise_0.0"] == 0.5
    lo, hi = s["intervals"]["rejection@rejection"]
    assert lo < 0.5 < hi


# --- the real pipeline on a tiny file -----------------------------------------------------------------
SUPER = "Super Bowl LV was played on February 7, 2021 at Raymond James Stadium in Tampa, Florida."
NEGATIVES = [
    "Bake the bread for forty minutes until the crust is golden brown.",
    "The recipe needs two cups of flour, a pinch of salt and warm water.",
    "Knead the dough gently and let it rest under a damp towel.",
    "Sourdough starters need feeding with flour and water every day.",
    "A cast-iron pot gives the loaf an even, crackling crust.",
    "Let the loaf cool on a wire rack before slicing it.",
]


def write_fact_file(path: Path) -> Path:
    row = {
        "id": 0,
        "query": "Where was Super Bowl 2021 played?",
        "answer": "Tampa",
        "fakeanswer": "Glendale",
        "positive": [SUPER, "The 2021 Super Bowl took place in Tampa, Florida, home of the Buccaneers.", SUPER],
        "positive_wrong": [
            SUPER.replace("Tampa, Florida", "Glendale, Arizona"),
            "The 2021 Super Bowl took place in Glendale, Arizona, home of the Buccaneers.",
        ],
        "negative": NEGATIVES,
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_rgb_on_the_real_pipeline(tmp_path: Path) -> None:
    path = write_fact_file(tmp_path / "tiny_fact.json")
    settings = Settings(index=tmp_path / "unused-index")
    records, summary = rgb.run_file(path, settings, seed=0)
    assert not (tmp_path / "unused-index").exists()  # the passages never touch an index on disk
    assert [r["type"] for r in records] == rgb.conditions(rgb.load_rgb(path))
    by = {r["type"]: r for r in records}
    for r in records:  # every case showed the generator exactly its mix
        if r["type"].startswith("noise_"):
            kinds = Counter(r["passages"])
            assert (kinds["positive"], kinds["negative"]) == mix_counts(float(r["type"][6:]), 3, 6)
        assert r["trace"]["cutoff"] == len(r["passages"])
    assert by["noise_0.0"]["correct"] and "Tampa" in by["noise_0.0"]["prediction"]
    assert by["rejection"]["passages"] == ["negative"] * 5
    assert by["rejection"]["rejected"] and by["rejection"]["abstained"]
    cf = by["counterfactual"]
    assert cf["passages"] == ["counterfactual"] * 2
    assert cf["fake_answer"] == (not cf["abstained"] and "Glendale" in cf["prediction"])
    assert cf["detected"] == cf["abstained"]
    c = summary["conditions"]
    assert c["rejection"]["rejection"]["rate"] == 1.0
    assert c["noise_0.0"]["accuracy"]["rate"] == 1.0
    assert c["counterfactual"]["fake_answer"]["rate"] == float(cf["fake_answer"])
    print(rgb.format_report(summary))

    out = tmp_path / "run"
    rgb.write_run(out, records, summary, path, settings)
    assert {p.name for p in out.iterdir()} >= {"results.jsonl", "summary.json", "run.json", "report.md", "report.html"}
    assert len((out / "results.jsonl").read_text(encoding="utf-8").splitlines()) == len(records)
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["format"] == "rgb"
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert written["rejection@rejection"] == 1.0 and written["intervals"]["rejection@rejection"][1] == 1.0
    assert {c["condition"] for c in written["conditions"]} == set(c)
    assert "ChatGPT (paper*)" in (out / "report.md").read_text(encoding="utf-8")
    assert "ChatGPT (paper*)" in (out / "report.html").read_text(encoding="utf-8")
