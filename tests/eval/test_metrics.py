"""eval/metrics.py: answer matching, source hits and the summary."""

from __future__ import annotations

import math

import pytest

from eval.metrics import contains_answer, percentile, ratio, sources_hit, summarize

# --- contains_answer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answers", "found"),
    [
        ("Professor Zheng Nanning gave the lecture. [1]", ["Zheng Nanning"], True),
        ("PROFESSOR ZHENG NANNING gave it.", ["zheng nanning"], True),
        ("It was held on April 25, 2025.", ["April 25"], True),
        ("It was held on 25 April.", ["April 25"], False),
        ("He works at Xi’an Jiaotong University.", ["Xi'an Jiaotong University"], True),
        ("He works at Xi'an Jiaotong University.", ["Xi’an Jiaotong University"], True),
        ("It was the 20th session.", ["The 20th"], True),  # articles dropped on both sides
        ("It was the 20th session.", ["20th session!"], True),  # punctuation dropped
        ("The plan dates from 2018.", ["20"], False),  # whole words only
        ("The plan dates from 2018.", ["2018"], True),
        ("He said it was important.", ["portant"], False),
        ("主讲人是 郑南宁 。", ["郑南宁"], True),
        ("Zheng Nanning spoke.", ["Li Qiang", "Zheng Nanning"], True),  # any answer
        ("Zheng Nanning spoke.", [], False),
        ("Zheng Nanning spoke.", ["", "the", "..."], False),  # answers that normalise to nothing never match
    ],
)
def test_contains_answer(text, answers, found):
    assert contains_answer(text, answers) is found


def test_contains_answer_finds_cjk_answer_inside_cjk_text():
    assert contains_answer("主讲人是郑南宁。", ["郑南宁"]) is True


def test_contains_answer_does_not_confuse_xian_with_xi():
    assert contains_answer("He studied at Xi Jiaotong University.", ["Xi'an Jiaotong University"]) is False


def test_contains_answer_accepts_any_iterable():
    assert contains_answer("It happened on Friday.", (a for a in ["Friday"])) is True


# --- sources_hit -------------------------------------------------------------------------------


def test_sources_hit_matches_by_file_name():
    retrieved = ["/home/u/corpus/000_eb440050df25cd3d.txt", "/tmp/other.txt"]
    assert sources_hit(retrieved, ["000_eb440050df25cd3d.txt"]) is True
    assert sources_hit(retrieved, ["ingest/demo_corpus/000_eb440050df25cd3d.txt"]) is True
    assert sources_hit(retrieved, ["002_051ad646e9f7dedc.txt"]) is False


def test_sources_hit_needs_the_whole_file_name():
    assert sources_hit(["/c/000_eb440050df25cd3d.txt"], ["eb440050df25cd3d.txt"]) is False


def test_sources_hit_empty():
    assert sources_hit([], ["a.txt"]) is False
    assert sources_hit(["/c/a.txt"], []) is False


# --- ratio / percentile -------------------------------------------------------------------------


def test_ratio():
    assert ratio(1, 4) == 0.25
    assert ratio(0, 0) is None


def test_percentile():
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == pytest.approx(25.0)
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))


# --- summarize ---------------------------------------------------------------------------------


def rec(answerable, abstained, correct, cited=False, source=False, latency=100.0):
    return {
        "answerable": answerable,
        "abstained": abstained,
        "correct": correct,
        "citation_supported": cited,
        "source_hit": source,
        "latency_ms": latency,
    }


RECORDS = [
    # answerable, answered correctly with a supporting citation
    rec(True, False, True, cited=True, source=True, latency=100.0),
    # answerable, answered wrongly; the cited passage does not hold the answer
    rec(True, False, False, cited=False, source=True, latency=200.0),
    # answerable but refused (a false refusal); citation_supported must not count here
    rec(True, True, False, cited=True, source=False, latency=300.0),
    # unanswerable, correctly refused
    rec(False, True, True, latency=400.0),
    # unanswerable, answered anyway; it must not enter citation_support
    rec(False, False, False, cited=True, latency=1000.0),
]


def test_summarize_counts_and_rates():
    s = summarize(RECORDS)
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (5, 3, 2)
    assert s["answer_accuracy"] == pytest.approx(1 / 3)
    assert s["refusal_accuracy"] == pytest.approx(1 / 2)
    assert s["false_refusal_rate"] == pytest.approx(1 / 3)
    assert s["source_recall_at_k"] == pytest.approx(2 / 3)
    assert s["overall_accuracy"] == pytest.approx(2 / 5)


def test_summarize_citation_support_over_answered_answerable_only():
    # Answered answerable questions: the first two records; one of them is supported.
    assert summarize(RECORDS)["citation_support"] == pytest.approx(1 / 2)


def test_summarize_latency_percentiles():
    s = summarize(RECORDS)
    # numpy linear interpolation over [100, 200, 300, 400, 1000]
    assert s["latency_ms_p50"] == pytest.approx(300.0)
    assert s["latency_ms_p95"] == pytest.approx(400.0 + 0.8 * 600.0)


def test_summarize_rates_are_none_without_a_denominator():
    s = summarize([rec(False, True, True, latency=50.0)])
    assert s["answer_accuracy"] is None
    assert s["false_refusal_rate"] is None
    assert s["citation_support"] is None
    assert s["source_recall_at_k"] is None
    assert s["refusal_accuracy"] == 1.0
    assert s["overall_accuracy"] == 1.0
    assert s["latency_ms_p50"] == 50.0


def test_summarize_all_answerable_refused_has_no_citation_support():
    s = summarize([rec(True, True, False, cited=True), rec(True, True, False, cited=True)])
    assert s["citation_support"] is None
    assert s["false_refusal_rate"] == 1.0
    assert s["refusal_accuracy"] is None


def test_summarize_empty():
    s = summarize([])
    assert s["questions"] == 0
    assert s["answer_accuracy"] is None
    assert s["overall_accuracy"] is None
    assert math.isnan(s["latency_ms_p50"])
