"""rag/verify.py: the pure checks (parsing, refusals, support, relevance, policies) and the real MiniLM verifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import demo_corpus_dir
from rag.types import Chunk, Hit, SentenceCheck, chunk_id
from rag.verify import (
    NAME_PENALTY,
    NUMBER_PENALTY,
    POLICIES,
    TYPE_PENALTY,
    Verifier,
    apply_policy,
    is_refusal,
    names_in,
    parse_answer,
    relevance_score,
    render,
    support_score,
)

LECTURE_SENTENCE = (
    "Comrade Zheng Nanning (郑南宁), a professor at Xi'an Jiaotong University, gave an explanatory lecture "
    "on this topic and put forth suggestions for work."
)
BELL = "Alexander Graham Bell invented the telephone in 1876."


def demo_chunk(file_prefix: str, first: str, last: str) -> Chunk:
    """A chunk of a demo-corpus file from `first` to the end of `last`, at its real offsets."""
    (path,) = demo_corpus_dir().glob(f"{file_prefix}_*.txt")
    text = path.read_text(encoding="utf-8")
    start = text.index(first)
    end = text.index(last, start) + len(last)
    return Chunk(id=chunk_id(str(path), text[start:end]), source=str(path), start=start, end=end, text=text[start:end])


def hits(*chunks: Chunk) -> list[Hit]:
    return [Hit(c, n, 1.0 - 0.1 * n) for n, c in enumerate(chunks, 1)]


def check(sentence: str, citations: tuple[int, ...] = (1,), status: str = "supported", support: float = 0.9):
    return SentenceCheck(sentence, citations, support, 0.8, status)


# --- parse_answer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zheng Nanning gave the lecture [1].", [("Zheng Nanning gave the lecture.", (1,))]),
        ("Zheng Nanning gave the lecture [1, 2].", [("Zheng Nanning gave the lecture.", (1, 2))]),
        ("Zheng Nanning gave the lecture [1; 3].", [("Zheng Nanning gave the lecture.", (1, 3))]),
        ("Zheng Nanning gave the lecture [1][2].", [("Zheng Nanning gave the lecture.", (1, 2))]),
        ("Zheng Nanning gave the lecture. [2]", [("Zheng Nanning gave the lecture.", (2,))]),
        ("Zheng Nanning gave the lecture.[2]", [("Zheng Nanning gave the lecture.", (2,))]),
        ("Zheng Nanning gave the lecture [1][1].", [("Zheng Nanning gave the lecture.", (1,))]),
        (
            "Zheng Nanning gave it [1]. It was in April. [2][3]",
            [("Zheng Nanning gave it.", (1,)), ("It was in April.", (2, 3))],
        ),
        (
            # "[2]" opening the second piece belongs to the sentence before it
            "Zheng Nanning gave the lecture. [2] Xi Jinping chaired the session [1].",
            [("Zheng Nanning gave the lecture.", (2,)), ("Xi Jinping chaired the session.", (1,))],
        ),
        (
            # a piece made only of markers is folded into the sentence before it
            "Xi Jinping chaired the session [1].\n[2][3]",
            [("Xi Jinping chaired the session.", (1, 2, 3))],
        ),
        (
            "No markers here. Another sentence without any.",
            [("No markers here.", ()), ("Another sentence without any.", ())],
        ),
    ],
)
def test_parse_answer(text: str, expected: list) -> None:
    assert parse_answer(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "[1]", "[1] [2]", " . [3]"])
def test_parse_answer_without_sentences(text: str) -> None:
    assert parse_answer(text) == []


def test_parse_answer_marker_glued_after_the_period_between_sentences() -> None:
    text = "Zheng Nanning gave the lecture.[1] It was held on April 25.[2][3]"
    assert parse_answer(text) == [("Zheng Nanning gave the lecture.", (1,)), ("It was held on April 25.", (2, 3))]


# --- is_refusal / names_in -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Not in the documents.",
        "not in the documents",
        "The answer is not mentioned in the passages.",
        "This is not found in the context.",
        "The passages do not mention who invented the telephone.",
        "The documents don't say.",
        "The text does not contain that information.",
        "This question cannot be answered from the passages.",
        "I can't answer that.",
        "There is no information about the telephone.",
        "I don't know.",
    ],
)
def test_refusals(sentence: str) -> None:
    assert is_refusal(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "The documents say that Zheng Nanning gave the lecture.",
        "According to the passages, the session was held on April 25.",
        "The documents describe China's approach to AI governance.",
        "Xi Jinping called for new laws on AI in the text of his speech.",
        "Zheng Nanning gave the lecture.",
        "Nothing in the readout suggests otherwise: Zheng Nanning gave the lecture.",
    ],
)
def test_non_refusals(sentence: str) -> None:
    assert not is_refusal(sentence)


def test_names_in_skips_the_first_word_and_short_words() -> None:
    assert names_in("Professor Zheng Nanning gave the lecture in Beijing.") == {"zheng", "nanning", "beijing"}
    assert names_in("The lecture was about AI and Xi spoke after it.") == set()
    assert names_in("the lecture was given by zheng nanning.") == set()
    assert names_in("It was held. After that Zheng spoke.") == {"zheng"}


# --- support_score ---------------------------------------------------------------------------


def test_support_of_a_copied_sentence_is_about_one() -> None:
    score, coverage, problems = support_score(LECTURE_SENTENCE, LECTURE_SENTENCE, 1.0)
    assert score == pytest.approx(1.0)
    assert coverage == 1.0 and problems == []


def test_support_of_an_unrelated_sentence_is_low() -> None:
    score, coverage, problems = support_score("The Great Wall is very long.", LECTURE_SENTENCE, 0.05)
    assert score < 0.2
    assert coverage == 0.0
    assert any("great" in p and "wall" in p for p in problems)


def test_a_number_missing_from_the_passage_cuts_support() -> None:
    ok, _, ok_problems = support_score("Zheng Nanning gave an explanatory lecture.", LECTURE_SENTENCE, 0.9)
    cut, coverage, problems = support_score("Zheng Nanning gave 3 explanatory lectures.", LECTURE_SENTENCE, 0.9)
    assert ok_problems == []
    assert coverage == 1.0  # every word is in the passage; only the number is not
    assert cut == pytest.approx((0.5 * coverage + 0.5 * 0.9) * NUMBER_PENALTY)
    assert cut < ok
    assert problems == ["numbers not in the passage: 3"]


def test_a_year_missing_from_the_passage_cuts_support() -> None:
    score, _, problems = support_score("Zheng Nanning gave an explanatory lecture in 2018.", LECTURE_SENTENCE, 0.9)
    assert score < 0.6
    assert problems == ["numbers not in the passage: 2018"]


def test_a_name_missing_from_the_passage_cuts_support() -> None:
    sentence = "Zheng Nanning and Geoffrey Hinton gave an explanatory lecture."
    score, coverage, problems = support_score(sentence, LECTURE_SENTENCE, 0.9)
    assert score == pytest.approx((0.5 * coverage + 0.5 * 0.9) * NAME_PENALTY)
    assert problems == ["names not in the passage: geoffrey, hinton"]


def test_negative_similarity_counts_as_zero() -> None:
    assert (
        support_score("Zheng Nanning lectured.", LECTURE_SENTENCE, -0.4)[0]
        == support_score("Zheng Nanning lectured.", LECTURE_SENTENCE, 0.0)[0]
    )


# --- relevance_score -------------------------------------------------------------------------


def test_on_topic_sentence_is_more_relevant_than_off_topic() -> None:
    on = relevance_score("Who gave the lecture?", "Zheng Nanning gave the lecture.", LECTURE_SENTENCE, 0.6)
    off = relevance_score("Who gave the lecture?", "The Great Wall is long.", "The Great Wall is long.", 0.05)
    assert on > 0.6
    assert off < 0.3
    assert on > off


def test_who_question_answered_without_a_name_is_penalised() -> None:
    q = "Who gave the lecture?"
    nameless = "An explanatory lecture was given on this topic."
    named = "Zheng Nanning gave an explanatory lecture on this topic."
    r_nameless = relevance_score(q, nameless, nameless, 0.6)
    # "lecture" is covered, "gave" is not: half the question's words
    assert r_nameless == pytest.approx((0.5 * 0.6 + 0.5 * 0.5) * TYPE_PENALTY)
    assert relevance_score(q, named, named, 0.6) == pytest.approx(0.5 * 0.6 + 0.5 * 1.0)
    # the same sentence for a question that asks for no particular type is not penalised
    assert relevance_score("What was the lecture about?", nameless, nameless, 0.6) > r_nameless


def test_question_words_only_elsewhere_in_the_passage_count_half() -> None:
    q = "When was the study session held?"
    sentence = "It took place on April 25."
    near = relevance_score(q, sentence, "The study session was held on April 25.", 0.5)
    far = relevance_score(q, sentence, sentence, 0.5, passage="The study session was held in Beijing.")
    none = relevance_score(q, sentence, sentence, 0.5)
    assert near > far > none


# --- apply_policy / render -------------------------------------------------------------------


CHECKS = [
    check("Zheng Nanning gave the lecture.", (2,)),
    check("Not in the documents.", (), "refusal", 0.0),
    check("Alexander Graham Bell invented the telephone in 1876.", (1,), "unsupported", 0.1),
    check("The Great Wall is long.", (3,), "off-topic", 1.0),
]


def test_flag_keeps_every_content_sentence_but_no_refusal() -> None:
    kept = apply_policy(CHECKS, "flag")
    assert [c.status for c in kept] == ["supported", "unsupported", "off-topic"]


@pytest.mark.parametrize("policy", ["drop", "strict"])
def test_drop_and_strict_keep_only_supported(policy: str) -> None:
    assert apply_policy(CHECKS, policy) == [CHECKS[0]]
    assert apply_policy(CHECKS[1:], policy) == []


def test_unknown_policy_is_an_error_naming_the_choices() -> None:
    assert POLICIES == ("flag", "drop", "strict")
    with pytest.raises(ValueError, match=r"unknown policy 'lenient'.*flag, drop, strict"):
        apply_policy(CHECKS, "lenient")


def test_render_puts_markers_after_each_sentence() -> None:
    checks = [check("Zheng Nanning gave the lecture.", (2,)), check("It was on April 25.", (1, 3)), check("X.", ())]
    assert render(checks) == "Zheng Nanning gave the lecture. [2] It was on April 25. [1][3] X."
    assert render([]) == ""
    # what render writes, parse_answer reads back
    assert parse_answer(render(checks)) == [(c.text, c.citations) for c in checks]


# --- the verifier, with the real MiniLM --------------------------------------------------------


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    from rag.embeddings import load_embeddings

    return Verifier(load_embeddings("all-MiniLM-L6-v2"))


@pytest.fixture(scope="module")
def governance() -> Chunk:
    return demo_chunk("003", "China’s AI governance strategy", "framework for AI development.")


@pytest.fixture(scope="module")
def lecture() -> Chunk:
    return demo_chunk("002", "Xinhua News Agency, Beijing, April 26", "engaged in discussion.")


@pytest.fixture(scope="module")
def speaker() -> Chunk:
    return demo_chunk("000", "The speaker for this Politburo", "also offered work recommendations.")


GREAT_WALL = Chunk(
    id="great-wall",
    source="great_wall.txt",
    start=0,
    end=82,
    text="The Great Wall is long. It runs for thousands of kilometres across northern China.",
)


def assert_spans_inside(c: SentenceCheck, passages: list[Hit]) -> None:
    for n, (s, e) in c.spans.items():
        chunk = passages[n - 1].chunk
        assert chunk.start <= s < e <= chunk.end
        if chunk.source.endswith(".txt") and chunk.source != GREAT_WALL.source:
            source_text = Path(chunk.source).read_text(encoding="utf-8")
            assert source_text[s:e] in chunk.text


@pytest.mark.slow
def test_sentence_copied_from_passage_2_but_cited_1_is_recited(verifier, governance, lecture) -> None:
    passages = hits(governance, lecture)
    (c,) = verifier.check("Who gave the lecture?", f"{LECTURE_SENTENCE} [1]", passages)
    assert c.status == "supported"
    assert c.citations == (2,)
    assert c.cited_by_model == (1,)
    assert "cited [1] but [2] supports it" in c.note
    assert c.support >= verifier.support_threshold
    # the span is the copied sentence, at its absolute offsets in the source file
    s, e = c.spans[2]
    assert Path(lecture.source).read_text(encoding="utf-8")[s:e] == LECTURE_SENTENCE
    assert_spans_inside(c, passages)


@pytest.mark.slow
def test_unmarked_supported_sentence_gets_its_passage_marker(verifier, governance, lecture) -> None:
    passages = hits(governance, lecture)
    (c,) = verifier.check("Who gave the lecture?", "Zheng Nanning gave an explanatory lecture on this topic.", passages)
    assert c.status == "supported"
    assert c.citations == (2,) and c.cited_by_model == ()
    assert "[2] supports it" in c.note
    assert set(c.spans) == {2}
    assert_spans_inside(c, passages)


@pytest.mark.slow
def test_marker_naming_no_passage_is_noted_and_replaced(verifier, governance, lecture) -> None:
    passages = hits(governance, lecture)
    (c,) = verifier.check("Who gave the lecture?", f"{LECTURE_SENTENCE} [7]", passages)
    assert c.status == "supported" and c.citations == (2,)
    assert "marker [7] names no passage" in c.note


@pytest.mark.slow
@pytest.mark.parametrize("marker", ["", " [1]", " [2]"])
def test_hallucinated_sentence_is_unsupported(verifier, governance, lecture, marker: str) -> None:
    passages = hits(governance, lecture)
    (c,) = verifier.check("Who invented the telephone?", BELL + marker, passages)
    assert c.status == "unsupported" and not c.supported
    assert c.support < verifier.support_threshold
    assert c.spans == {}
    assert "1876" in c.note or "bell" in c.note


@pytest.mark.slow
@pytest.mark.parametrize("zheng_passage", ["speaker", "lecture"])
def test_smollm2_great_wall_answer(verifier, request, zheng_passage: str) -> None:
    """The spec's case: SmolLM2 opens with a true but irrelevant sentence from another passage."""
    passages = hits(request.getfixturevalue(zheng_passage), GREAT_WALL)
    answer = "The Great Wall is long. The answer is: Professor Zheng Nanning gave the lecture. [1]"
    wall, zheng = verifier.check("Who gave the lecture?", answer, passages)
    assert wall.text == "The Great Wall is long."
    assert wall.status in ("off-topic", "unsupported")
    assert not wall.supported
    assert zheng.text == "The answer is: Professor Zheng Nanning gave the lecture."
    assert zheng.status == "supported"
    assert zheng.citations == (1,)
    assert zheng.relevance > wall.relevance
    assert_spans_inside(zheng, passages)
    # what a reader sees under drop/strict: only the Zheng Nanning sentence
    assert [c.text for c in apply_policy([wall, zheng], "strict")] == [zheng.text]


@pytest.mark.slow
def test_over_citation_is_pruned(verifier, governance, lecture) -> None:
    passages = hits(governance, lecture)
    (c,) = verifier.check(
        "Who gave the lecture?", "Zheng Nanning gave an explanatory lecture on this topic. [1][2]", passages
    )
    assert c.status == "supported"
    assert c.cited_by_model == (1, 2)
    assert c.citations == (2,)
    assert set(c.spans) == {2}


@pytest.mark.slow
def test_refusal_sentence_is_marked_refusal(verifier, governance, lecture) -> None:
    checks = verifier.check("Who invented the telephone?", "Not in the documents.", hits(governance, lecture))
    assert [(c.status, c.citations, c.support) for c in checks] == [("refusal", (), 0.0)]
    assert verifier.check("Who invented the telephone?", "", hits(governance, lecture)) == []


@pytest.mark.slow
def test_no_passages_means_nothing_is_supported(verifier) -> None:
    (c,) = verifier.check("Who gave the lecture?", f"{LECTURE_SENTENCE} [1]", [])
    assert c.status == "unsupported" and c.citations == ()
    assert "marker [1] names no passage" in c.note


@pytest.mark.slow
def test_supports(verifier, lecture, governance) -> None:
    assert verifier.supports("Zheng Nanning gave an explanatory lecture on this topic.", [lecture.text])
    assert verifier.supports(
        "Zheng Nanning gave an explanatory lecture on this topic.", [governance.text, lecture.text]
    )
    assert not verifier.supports("Zheng Nanning gave an explanatory lecture on this topic.", [governance.text])
    assert not verifier.supports(BELL, [lecture.text, governance.text])
    assert not verifier.supports("Zheng Nanning gave an explanatory lecture on this topic.", [])
