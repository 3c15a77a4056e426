"""The pure scoring functions of rag/generators/extractive.py (no generator, no model)."""

from __future__ import annotations

import math

import pytest

from rag.generators.extractive import (
    ECHO_PENALTY,
    NEGATION_PENALTY,
    NUMBER_PENALTY,
    TYPE_PENALTY,
    UNKNOWN_NAME_PENALTY,
    Candidate,
    _is_candidate,
    _list_items,
    combine,
    expected_answer_type,
    has_answer_type,
    idf_weights,
    negated,
    negation_ok,
    required_numbers,
    score_sentence,
    select,
    sentence_units,
    stems,
    unknown_names,
)
from rag.types import Chunk, Hit


def hit(text: str, n: int = 1) -> Hit:
    start = 1000 * n
    c = Chunk(id=f"c{n}", source=f"/docs/{n}.txt", start=start, end=start + len(text), text=text)
    return Hit(c, n, 0.0)


def cand(n: int, passage: str, sentence: str, score: float) -> Candidate:
    start = passage.index(sentence)
    return Candidate(n, start, start + len(sentence), sentence, 0.5, 0.5, True, True, False, score)


# --- expected_answer_type ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who gave the lecture?", "name"),
        ("Whom did Xi thank?", "name"),
        ("Which member of the Politburo spoke?", "name"),
        ("When was the study session held?", "date"),
        ("In what year did the plan start?", "date"),
        ("On what date did the Politburo meet?", "date"),
        ("What year was the plan announced?", "date"),
        ("How many members attended?", "number"),
        ("How much did the fund cost?", "number"),
        ("What percentage of firms use AI?", "number"),
        ("How long did the session last?", "duration"),
        ("What did Xi emphasise?", None),
        ("Which university is he affiliated with?", None),
        ("", None),
    ],
)
def test_expected_answer_type(question, kind):
    assert expected_answer_type(question) == kind


def test_expected_answer_type_first_match_wins():
    # "how long" is checked before "when": a duration question stays a duration question.
    assert expected_answer_type("How long after the meeting, and when, was it announced?") == "duration"


# --- has_answer_type ---------------------------------------------------------------------------


def test_any_sentence_satisfies_no_type():
    assert has_answer_type("nothing special here", None) is True


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("It was held in 2018.", False),  # a year is a date, not a count
        ("There were 24 members.", True),
        ("Twenty members came.", True),
        ("Several members came.", True),
        ("Costs rose by 1,500 yuan.", True),
        ("Members came.", False),
    ],
)
def test_has_answer_type_number(sentence, ok):
    assert has_answer_type(sentence, "number") is ok


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("It was held on April 25.", True),
        ("It was held in 2018.", True),
        ("It was held on Friday.", True),
        ("It was held on the 25th.", True),
        ("It was held recently.", False),
        ("It was held 2025年4月.", True),
    ],
)
def test_has_answer_type_date(sentence, ok):
    assert has_answer_type(sentence, "date") is ok


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("It lasted three hours.", True),
        ("It lasted 90 minutes.", True),
        ("It lasted a day.", True),
        ("It lasted long.", False),
    ],
)
def test_has_answer_type_duration(sentence, ok):
    assert has_answer_type(sentence, "duration") is ok


def test_name_titled_person_satisfies_name():
    q = "Who gave the lecture?"
    assert has_answer_type("Professor Zheng Nanning gave the lecture.", "name", q) is True
    assert has_answer_type("Zheng Nanning gave the lecture.", "name", q) is True


def test_name_institution_does_not_satisfy_name():
    q = "Who lectured the Politburo on AI?"
    assert has_answer_type("the Central Committee Politburo held a session.", "name", q) is False
    assert has_answer_type("The Central Committee Politburo held a session.", "name", q) is False
    assert has_answer_type("the politburo held a session.", "name", q) is False


def test_name_already_in_question_does_not_count():
    q = "Who did Zheng Nanning brief on the topic"
    assert has_answer_type("Zheng Nanning briefed them.", "name", q) is False
    assert has_answer_type("Zheng Nanning briefed Xi Jinping.", "name", q) is True


def test_name_cjk_run_counts_as_name():
    assert has_answer_type("主讲人是郑南宁。", "name", "Who gave the lecture?") is True


def test_name_already_in_question_with_question_mark_does_not_count():
    assert has_answer_type("Zheng Nanning met the press.", "name", "Who met Zheng Nanning?") is False


# --- required_numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "numbers"),
    [
        ("What did the 19th Party Congress decide?", {"19"}),
        ("What was planned in 2018?", {"2018"}),
        ("What happened at the 2nd and 3rd sessions in 2018?", {"2", "3", "2018"}),
        ("Which 1,000 firms were named?", {"1000"}),
        ("What did Xi say about AI?", set()),
    ],
)
def test_required_numbers(question, numbers):
    assert required_numbers(question) == numbers


# --- idf_weights -------------------------------------------------------------------------------


def test_idf_weights_by_hand():
    sentences = [{"politburo", "study"}, {"politburo", "chip"}, {"politburo"}]
    w = idf_weights({"politburo", "study", "born"}, sentences)
    assert w["politburo"] == pytest.approx(math.log(1 + 3 / 4))
    assert w["study"] == pytest.approx(math.log(1 + 3 / 2))
    assert w["born"] == pytest.approx(math.log(1 + 3))


def test_idf_common_word_weighs_less_than_rare_and_missing_weighs_most():
    sentences = [{"politburo", "study"}, {"politburo", "chip"}, {"politburo", "lecture"}, {"politburo"}]
    w = idf_weights({"politburo", "lecture", "born"}, sentences)
    assert w["politburo"] < w["lecture"] < w["born"]
    assert set(w) == {"politburo", "lecture", "born"}


def test_idf_weights_no_sentences():
    assert idf_weights({"a"}, []) == {"a": 0.0}
    assert idf_weights(set(), [{"a"}]) == {}


# --- combine / score_sentence ------------------------------------------------------------------


def test_combine_without_penalties():
    assert combine(0.6, 0.2, True, True, False, 0.25) == pytest.approx(0.25 * 0.6 + 0.75 * 0.2)


@pytest.mark.parametrize(
    ("type_ok", "numbers_ok", "echo", "factor"),
    [
        (False, True, False, TYPE_PENALTY),
        (True, False, False, NUMBER_PENALTY),
        (True, True, True, ECHO_PENALTY),
        (False, False, True, TYPE_PENALTY * NUMBER_PENALTY * ECHO_PENALTY),
    ],
)
def test_combine_penalties_multiply(type_ok, numbers_ok, echo, factor):
    base = combine(0.6, 0.2, True, True, False, 0.5)
    assert combine(0.6, 0.2, type_ok, numbers_ok, echo, 0.5) == pytest.approx(base * factor)


def test_penalty_constants():
    assert (TYPE_PENALTY, NUMBER_PENALTY, ECHO_PENALTY) == (0.6, 0.5, 0.5)


@pytest.mark.parametrize(
    ("negation", "names", "factor"),
    [
        (False, True, NEGATION_PENALTY),
        (True, False, UNKNOWN_NAME_PENALTY),
        (False, False, NEGATION_PENALTY * UNKNOWN_NAME_PENALTY),
    ],
)
def test_combine_answerability_penalties(negation, names, factor):
    base = combine(0.6, 0.2, True, True, False, 0.5)
    assert combine(0.6, 0.2, True, True, False, 0.5, negation_ok=negation, names_ok=names) == pytest.approx(
        base * factor
    )


def test_answerability_penalty_constants():
    assert (NEGATION_PENALTY, UNKNOWN_NAME_PENALTY) == (0.5, 0.5)


# --- negation / unknown names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What does Article 102 not prohibit?", True),
        ("Who didn't attend the session?", True),
        ("Which group can never meet there?", True),
        ("Who spoke without notes?", True),
        ("Article 102 prohibits the abuse of dominant position.", False),
        ("Notably, the session was held in April.", False),
        ("", False),
    ],
)
def test_negated(text, expected):
    assert negated(text) is expected


def test_negated_question_needs_a_negated_sentence():
    q = "What does Article 102 not prohibit?"
    assert negation_ok(q, "Article 102 prohibits the abuse of dominant position.") is False
    assert negation_ok(q, "Article 102 does not prohibit mergers.") is True
    assert negation_ok("What does Article 102 prohibit?", "Article 102 prohibits price discrimination.") is True
    assert negation_ok("What does Article 102 prohibit?", "It doesn't prohibit mergers.") is True


def test_score_sentence_penalises_an_unnegated_answer_to_a_negated_question():
    weights = {"article": 1.0, "102": 1.0, "prohibit": 1.0}
    q = "What does Article 102 not prohibit?"
    plain = score_sentence(q.replace(" not", ""), weights, "Article 102 prohibits abuse.", set(), 0.5)
    opposite = score_sentence(q, weights, "Article 102 prohibits abuse.", set(), 0.5)
    assert opposite[0] == pytest.approx(plain[0] * NEGATION_PENALTY)
    assert opposite[1:] == plain[1:]


def test_score_sentence_penalises_unknown_names():
    q = "What did the Politburo study?"
    weights = {"politburo": 1.0, "study": 1.0}
    known = score_sentence(q, weights, "The Politburo study covered chips.", set(), 0.6)
    unknown = score_sentence(q, weights, "The Politburo study covered chips.", set(), 0.6, names_ok=False)
    assert unknown[0] == pytest.approx(known[0] * UNKNOWN_NAME_PENALTY)


def test_unknown_names_lists_capitalised_question_words_no_passage_has():
    passages = ["The Harvard Crimson competes in 42 sports in the NCAA Division I Ivy League."]
    assert unknown_names("How many sports does Yale compete in in the NCAA Division I Ivy League?", passages) == [
        "Yale"
    ]
    assert unknown_names("How many sports does Harvard compete in?", passages) == []


def test_unknown_names_skips_the_first_word_acronyms_and_stopwords():
    passages = ["Warsaw was liberated in 1806."]
    assert unknown_names("Aristotle liberated Warsaw?", passages) == []  # first word: capitalised anyway
    assert unknown_names("When was Warsaw freed by the USSR?", passages) == []  # acronym
    assert unknown_names("When was Warsaw liberated, The city?", passages) == []  # stop-word


def test_unknown_names_match_stems_and_possessives():
    passages = ["The Huguenots settled in New York and in the Carolinas."]
    assert unknown_names("Where did the Huguenot settlers go besides Carolina's coast?", passages) == []


def test_unknown_names_ignore_accents():
    passages = ["Even before the Edict of Alès (1629), Protestant rule was dead.", "Möngke Khan ruled."]
    assert unknown_names("What was the Edict of Ales?", passages) == []
    assert unknown_names("Who succeeded Mongke?", passages) == []
    assert unknown_names("Who succeeded Möngke in Montpellier?", passages) == ["Montpellier"]


def test_unknown_names_not_checked_against_chinese_passages():
    assert unknown_names("Who gave the lecture to the Politburo?", ["郑南宁教授作了讲解。"]) == []
    mixed = ["Xi called for a new structure (新型举国体制) to be used.", "The Politburo met."]
    assert unknown_names("What is the Chinese term for the new structure?", mixed) == []
    assert unknown_names("Who gave the lecture to the Politburo?", []) == []


def test_missing_required_number_halves_the_score():
    q = "What did the Politburo study in 2018?"
    weights = {w: 1.0 for w in stems(q) - {"2018"}}  # same coverage for both sentences
    with_num = score_sentence(q, weights, "In 2018 the Politburo study covered chips.", set(), 0.4)
    without = score_sentence(q, weights, "In 2019 the Politburo study covered chips.", set(), 0.4)
    assert with_num == pytest.approx((0.7, 1.0, True, True, False))
    assert without == pytest.approx((0.35, 1.0, True, False, False))
    assert without[0] == pytest.approx(with_num[0] * 0.5)


def test_required_number_ignores_thousands_separators():
    q = "Which 1,000 firms were named?"
    weights = {"firm": 1.0}
    assert score_sentence(q, weights, "About 1000 firms were named.", set(), 0.0)[3] is True
    assert score_sentence(q, weights, "About 900 firms were named.", set(), 0.0)[3] is False


def test_required_number_is_not_found_inside_a_longer_number():
    q = "What did the 19th session decide?"
    numbers_ok = score_sentence(q, {"session": 1.0}, "In 2019 the session decided on chips.", set(), 0.0)[3]
    assert numbers_ok is False


def test_echo_penalty_when_sentence_only_repeats_question():
    q = "What did the Politburo study?"
    weights = {"politburo": 1.0, "studi": 1.0}  # Snowball stems: study -> studi
    echo = score_sentence(q, weights, "The Politburo study.", set(), 0.6)
    full = score_sentence(q, weights, "The Politburo study covered chips.", set(), 0.6)
    assert echo == pytest.approx((0.4, 1.0, True, True, True))
    assert full == pytest.approx((0.8, 1.0, True, True, False))
    assert echo[0] == pytest.approx(full[0] * ECHO_PENALTY)


def test_coverage_gives_half_credit_for_words_elsewhere_in_passage():
    q = "What did the Politburo study?"
    weights = {"politburo": 1.0, "studi": 3.0}  # Snowball stems: study -> studi
    passage = {"politburo", "studi"}
    score, cov, *_ = score_sentence(q, weights, "It covered chips.", passage, 0.0, sim_weight=0.0)
    assert cov == pytest.approx(0.5)
    assert score == pytest.approx(0.5)
    _, cov2, *_ = score_sentence(q, weights, "The study covered chips.", {"politburo", "studi"}, 0.0)
    assert cov2 == pytest.approx((3.0 + 0.5 * 1.0) / 4.0)


def test_zero_weights_give_zero_coverage():
    score, cov, *_ = score_sentence("What?", {}, "Anything at all here.", set(), 0.8, sim_weight=0.5)
    assert cov == 0.0
    assert score == pytest.approx(0.4)


def test_type_penalty_applied_in_score_sentence():
    q = "How many members attended the study?"
    weights = {"member": 1.0, "attend": 1.0, "study": 1.0}
    with_count = score_sentence(q, weights, "Twenty members attended the study session.", set(), 0.0, 0.0)
    without = score_sentence(q, weights, "Many members attended the study session.", set(), 0.0, 0.0)
    assert with_count[2] is True and without[2] is False
    assert without[0] == pytest.approx(with_count[0] * TYPE_PENALTY)


# --- sentence_units / _is_candidate ------------------------------------------------------------


def test_label_line_joined_to_the_next_line():
    text = "Translator and Editor\nBen Murphy, CSET Translation Manager\nThe readout was long. It ended."
    units = [text[s:e] for s, e in sentence_units(text)]
    assert units == [
        "Translator and Editor\nBen Murphy, CSET Translation Manager",
        "The readout was long.",
        "It ended.",
    ]


def test_sentences_with_end_punctuation_are_not_joined():
    text = "The readout was long.\nIt ended."
    assert sentence_units(text) == [(0, 21), (22, 31)]


def test_trailing_label_stays_alone():
    text = "The readout was long.\nSource"
    assert [text[s:e] for s, e in sentence_units(text)] == ["The readout was long.", "Source"]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Zheng Nanning gave the lecture.", True),
        ("He spoke.", False),  # fewer than MIN_WORDS
        ("Translator and Editor", False),  # a bare heading
        ("Translator and Editor\nBen Murphy, CSET Translation Manager", True),
        ("Four strengths:", True),  # a short list intro
        ("郑南宁教授就这个问题进行讲解。", True),
    ],
)
def test_is_candidate(text, ok):
    assert _is_candidate(text) is ok


# --- select / _list_items ----------------------------------------------------------------------

PASSAGE = (
    "Some intro here.\n"
    "Xi outlined four strengths:\n"
    "(1) Strong markets.\n"
    "(2) Rich data.\n"
    "- Talent pool.\n"
    "The end was near."
)


def test_list_items_follow_a_colon_sentence():
    intro = cand(1, PASSAGE, "Xi outlined four strengths:", 0.9)
    items = _list_items(intro, PASSAGE)
    assert [c.text for c in items] == ["(1) Strong markets.", "(2) Rich data.", "- Talent pool."]
    for c in items:
        assert PASSAGE[c.start : c.end] == c.text
        assert (c.n, c.score, c.type_ok, c.numbers_ok, c.echo) == (1, 0.9, True, True, False)


def test_list_items_respect_limit():
    intro = cand(1, PASSAGE, "Xi outlined four strengths:", 0.9)
    assert [c.text for c in _list_items(intro, PASSAGE, limit=2)] == ["(1) Strong markets.", "(2) Rich data."]


def test_no_list_items_without_colon():
    intro = cand(1, PASSAGE, "Some intro here.", 0.9)
    assert _list_items(intro, PASSAGE) == []


def test_no_list_items_when_next_line_is_not_an_item():
    passage = "Xi said this:\nThe end was near.\n(1) Not reached."
    assert _list_items(cand(1, passage, "Xi said this:", 0.5), passage) == []


def test_list_items_under_a_heading_bring_the_sub_intro():
    passage = "Key points:\nXi outlined two strengths:\n(1) Markets.\n2) Data.\nDone here now."
    items = _list_items(cand(1, passage, "Key points:", 0.5), passage)
    assert [c.text for c in items] == ["Xi outlined two strengths:", "(1) Markets.", "2) Data."]


def test_list_items_numbered_with_a_period():
    passage = "Xi outlined two strengths:\n1. Strong markets.\n2. Rich data.\nDone here now."
    items = _list_items(cand(1, passage, "Xi outlined two strengths:", 0.5), passage)
    assert [c.text for c in items] == ["1. Strong markets.", "2. Rich data."]


def test_select_brings_list_items_and_close_runner_up():
    other = "Markets in China are strong and growing fast."
    passages = [hit(PASSAGE, 1), hit(other, 2)]
    cands = [
        cand(1, PASSAGE, "Xi outlined four strengths:", 0.9),
        cand(2, other, other, 0.8),  # >= 0.85 * 0.9
        cand(1, PASSAGE, "The end was near.", 0.7),  # < 0.85 * 0.9
    ]
    chosen = select(cands, passages, threshold=0.3, max_sentences=3)
    assert [[c.text for c in g] for g in chosen] == [
        ["Xi outlined four strengths:", "(1) Strong markets.", "(2) Rich data.", "- Talent pool."],
        [other],
    ]


def test_select_stops_at_max_sentences():
    a = "Markets in China are strong and growing fast."
    b = "Data centres multiply across many western provinces."
    passages = [hit(a, 1), hit(b, 2)]
    cands = [cand(1, a, a, 0.9), cand(2, b, b, 0.89)]
    assert [[c.text for c in g] for g in select(cands, passages, 0.3, max_sentences=1)] == [[a]]
    assert len(select(cands, passages, 0.3, max_sentences=2)) == 2


def test_select_respects_threshold_for_runners_up():
    a = "Markets in China are strong and growing fast."
    b = "Data centres multiply across many western provinces."
    passages = [hit(a, 1), hit(b, 2)]
    cands = [cand(1, a, a, 0.9), cand(2, b, b, 0.85)]
    assert len(select(cands, passages, threshold=0.86, max_sentences=2)) == 1


def test_select_skips_near_duplicates():
    a = "Markets in China are strong and growing fast."
    b = "Markets in China are strong and growing quickly."
    c = "Data centres multiply across many western provinces."
    passages = [hit(a, 1), hit(b, 2), hit(c, 3)]
    cands = [cand(1, a, a, 0.9), cand(2, b, b, 0.9), cand(3, c, c, 0.88)]
    chosen = select(cands, passages, 0.3, max_sentences=2)
    assert [g[0].n for g in chosen] == [1, 3]


def test_select_skips_a_fragment_as_runner_up_but_not_as_answer():
    a = "Markets in China are strong and growing fast."
    frag = "study session, on strengthening the development of AI."  # a sentence cut by a line break
    passages = [hit(a, 1), hit(frag, 2)]
    assert [[c.text for c in g] for g in select([cand(1, a, a, 0.9), cand(2, frag, frag, 0.89)], passages, 0.3, 2)] == [
        [a]
    ]
    assert [[c.text for c in g] for g in select([cand(2, frag, frag, 0.9)], passages, 0.3, 2)] == [[frag]]
