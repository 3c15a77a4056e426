"""eval/metrics.py: answer matching, source hits and the summary."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    alce_citation_scores,
    contains_answer,
    exact_match,
    f1_score,
    percentile,
    ratio,
    sources_hit,
    squad_normalize,
    squad_tokens,
    summarize,
)

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


# --- official SQuAD 2.0 metrics -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Normans", "normans"),
        ("  in the 10th  and 11th centuries. ", "in 10th and 11th centuries"),
        ("Xi'an, a city", "xian city"),  # punctuation removed without a space, then articles
        ("theatre", "theatre"),  # articles only as whole words
        ("A", ""),
        ("Don’t stop", "don’t stop"),  # only ASCII punctuation, as the official script
    ],
)
def test_squad_normalize(text, normal):
    assert squad_normalize(text) == normal


def test_squad_tokens():
    assert squad_tokens("The Normans, in France") == ["normans", "in", "france"]
    assert squad_tokens("") == []
    assert squad_tokens("the") == []


def test_exact_match_official_cases():
    assert exact_match("the Normans", ["Normans"]) == 1.0
    assert exact_match("Normans.", ["The Normans", "Norse"]) == 1.0
    assert exact_match("Norman", ["Normans"]) == 0.0
    assert exact_match("France", ["Italy", "france"]) == 1.0  # max over golds


def test_f1_official_partial_values():
    # pred [normans, in, france] vs gold [normans]: P 1/3, R 1 -> F1 0.5
    assert f1_score("Normans in France", ["the Normans"]) == pytest.approx(0.5)
    # best of [10th, and, 11th, centuries] (P 1/2, R 1/4 -> 1/3) and [in, 10th, and, 11th, centuries] (2/7)
    assert f1_score("10th century", ["10th and 11th centuries", "in the 10th and 11th centuries"]) == pytest.approx(
        1 / 3
    )
    assert f1_score("x y y", ["y y z"]) == pytest.approx(2 / 3)  # multiset overlap: 2 of 3 tokens each side
    assert f1_score("Rollo", ["Normans"]) == 0.0


def test_no_answer_scores_only_the_empty_prediction():
    for golds in ([""], []):
        assert exact_match("", golds) == 1.0 and f1_score("", golds) == 1.0
        assert exact_match("Normans", golds) == 0.0 and f1_score("Normans", golds) == 0.0
    assert exact_match("", ["France"]) == 0.0 and f1_score("", ["France"]) == 0.0
    # gold texts that normalise to nothing are dropped, as in the official script; none left is no-answer
    assert exact_match("", ["the", "..."]) == 1.0
    assert exact_match("France", ["France", "."]) == 1.0
    assert exact_match("the", [""]) == 1.0  # a prediction that normalises to nothing counts as no answer


# --- ALCE citation recall / precision -----------------------------------------------------------


def judge(support: dict[str, list[set[int]]]):
    """A fake entailment judge: `support[sentence]` lists the passage sets that each suffice on their own."""

    def entails(sentence: str, refs) -> bool:
        cited = set(refs)
        return any(need <= cited for need in support.get(sentence, []))

    return entails


def test_alce_single_citation_supported_and_unsupported():
    entails = judge({"A": [{1}]})
    assert alce_citation_scores([("A", (1,))], entails) == (1.0, 1.0)
    assert alce_citation_scores([("A", (2,))], entails) == (0.0, 0.0)
    # one supported, one unsupported single-cited sentence
    assert alce_citation_scores([("A", (1,)), ("A", (3,))], entails) == (0.5, 0.5)


def test_alce_over_citation_is_not_credited():
    # [1] alone supports A; [2] adds nothing and [1] without it still supports: [2] is an over-citation
    assert alce_citation_scores([("A", (1, 2))], judge({"A": [{1}]})) == (1.0, 0.5)


def test_alce_a_needed_pair_of_citations_is_fully_precise():
    # only [1] and [2] together support A: neither alone does, and neither is redundant
    assert alce_citation_scores([("A", (1, 2))], judge({"A": [{1, 2}]})) == (1.0, 1.0)


def test_alce_each_citation_that_supports_alone_is_precise():
    # both [1] and [2] support A alone: each is precise (condition A), none is an over-citation
    assert alce_citation_scores([("A", (1, 2))], judge({"A": [{1}, {2}]})) == (1.0, 1.0)


def test_alce_unsupported_multi_citation_earns_nothing():
    assert alce_citation_scores([("A", (1, 2))], judge({"A": [{3}]})) == (0.0, 0.0)


def test_alce_sentences_without_citations_lower_recall_but_not_precision():
    entails = judge({"A": [{1}], "B": [{1}]})
    assert alce_citation_scores([("A", (1,)), ("B", ())], entails) == (0.5, 1.0)
    assert alce_citation_scores([("B", ())], entails) == (0.0, 0.0)


def test_alce_out_of_range_citations_are_unsupported_and_not_counted():
    entails = judge({"A": [{1}], "B": [{1}]})
    assert alce_citation_scores([("A", (1,)), ("B", (1, 7))], entails, passages=5) == (0.5, 1.0)
    assert alce_citation_scores([("A", (0,))], entails, passages=5) == (0.0, 0.0)


def test_alce_judges_only_the_first_three_citations():
    calls = []

    def entails(sentence, refs):
        calls.append(list(refs))
        return 1 in refs

    recall, precision = alce_citation_scores([("A", (2, 3, 4, 1))], entails)
    assert (recall, precision) == (0.0, 0.0) and calls == [[2, 3, 4]]
    # without the cut-off [1] is judged too: joint support, [1] precise, [2] [3] [4] over-citations
    assert alce_citation_scores([("A", (2, 3, 4, 1))], entails, at_most_citations=None) == (1.0, 0.25)


def test_alce_no_sentences():
    assert alce_citation_scores([], judge({})) == (0.0, 0.0)
