"""rag.analysis: the question's kind, parts, answer type and target, and the answer-type checks (pure)."""

from __future__ import annotations

import pytest

from rag.analysis import (
    QuestionAnalysis,
    analyze,
    asks_future,
    count_ok,
    focus_stems,
    has_answer_type,
    org_ok,
    split_parts,
    tense_ok,
    wh_noun,
)


@pytest.mark.parametrize(
    ("question", "kind", "answer_type"),
    [
        ("Who gave the lecture at the Politburo study session on AI?", "fact", "name"),
        ("On what date did the Politburo hold its study session?", "fact", "date"),
        ("How many AI companies is China expected to have by the end of 2025?", "fact", "number"),
        ("Why does China need AI governance according to the governance article?", "why", "reason"),
        ("How are Chinese domestic large models gaining leadership?", "how", "means"),
        ("How long did the lecture last?", "fact", "duration"),
        ("What are the four advantages Xi said China has for developing AI?", "list", "items"),
        ("Summarize the governance article's section on data governance and privacy", "summary", "summary"),
        ("Give an overview of the Xinhua readout.", "summary", "summary"),
        ("What is the difference between the 2018 and 2025 sessions?", "comparison", None),
        ("Is Huawei mentioned as an example?", "yesno", "yesno"),
        ("中国在人工智能发展方面有哪些优势？", "list", "items"),
        ("为什么要加强人工智能治理？", "why", "reason"),
        ("如何推动人工智能健康发展？", "how", "means"),
        ("请总结这篇文章。", "summary", "summary"),
        ("郑南宁是哪所大学的教授？", "fact", None),
        ("讲座是什么时候举行的？", "fact", "date"),
    ],
)
def test_kind_and_answer_type(question, kind, answer_type):
    a = analyze(question)
    assert (a.kind, a.answer_type) == (kind, answer_type)
    assert a.parts == (question,)


def test_two_parts_carry_the_subject_over_a_pronoun():
    a = analyze("Which university does Zheng Nanning come from, and what competition did he start?")
    assert a.kind == "multi"
    assert a.parts == ("Which university does Zheng Nanning come from?", "What competition did Zheng Nanning start?")
    assert a.answer_type is None


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "When was the previous AI session held, and who translated the new readout?",
            ("When was the previous AI session held?", "Who translated the new readout?"),
        ),
        ("Who lectured; what did Xi call for?", ("Who lectured?", "What did Xi call for?")),
        (
            "Who lectured, when did the session take place, and what did Xi call for?",
            ("Who lectured?", "When did the session take place?", "What did Xi call for?"),
        ),
        ("When was the session held and why?", ("When was the session held?", "Why was the session held?")),
        ("What did Xi stress and also what did Zheng recommend?", ("What did Xi stress?", "What did Zheng recommend?")),
        ("郑南宁是哪所大学的？他发起了什么比赛？", ("郑南宁是哪所大学的？", "他发起了什么比赛？")),
    ],
)
def test_parts(question, parts):
    assert split_parts(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "What are the strengths and weaknesses of China's AI?",  # one question about two things
        "What is the difference between the 2018 and 2025 sessions?",
        "In 2018, who gave the lecture?",  # a leading phrase is no part of its own
        "Which key technologies and tools did Xi name?",
    ],
)
def test_one_part(question):
    assert split_parts(question) == (question,)


def test_target_names_a_document_and_its_section():
    assert analyze("Why does China need AI governance according to the governance article?").target == (
        "the governance article"
    )
    summary = analyze("Summarize the governance article's section on data governance and privacy")
    assert summary.target == "the governance article, section on data governance and privacy"
    assert analyze("Who gave the lecture?").target is None


def test_to_dict_and_cache():
    a = analyze("Why does China need AI governance?")
    assert isinstance(a, QuestionAnalysis)
    assert a.to_dict() == {
        "question": "Why does China need AI governance?",
        "kind": "why",
        "parts": ["Why does China need AI governance?"],
        "answer_type": "reason",
        "target": None,
    }
    assert analyze("Why does China need AI governance?") is a  # lru_cached, pure


def test_empty_question():
    assert analyze("").kind == "fact"


# --- answer-type checks --------------------------------------------------------------------------


def test_future_date_is_not_answered_by_a_past_event():
    q = "When is the next Politburo study session on AI scheduled?"
    assert asks_future(q)
    assert not tense_ok(q, "The only previous session took place on October 31, 2018.")
    assert tense_ok(q, "The next session is scheduled for June 2026.")
    assert tense_ok("When was the session held?", "It took place on October 31, 2018.")


def test_money_question_needs_an_amount_of_money():
    q = "How much money did China pledge to Global South countries?"
    assert not has_answer_type("China will help developing countries, particularly in the Global South.", "number", q)
    assert not has_answer_type("China will help 30 countries.", "number", q)
    assert has_answer_type("China pledged 2 billion yuan to the fund.", "number", q)
    assert has_answer_type("A full plot costs 35 pounds a year.", "number", "How much does a plot cost?")


def test_how_many_needs_a_number_of_the_counted_thing():
    q = "How many steel hangers does the bridge have?"
    assert count_ok(q, "The team found corrosion on 14 of the 96 steel hangers.")
    assert not count_ok(q, "The 412-metre bridge carries the Route 9 highway.")
    assert not count_ok("How many countries have joined?", "(1) Helping Global South countries build capacity.")


def test_weekday_and_calendar_dates():
    assert has_answer_type("It met on Friday afternoon.", "date", "What day of the week was it held?")
    assert not has_answer_type("It met on April 25.", "date", "What day of the week was it held?")
    assert not has_answer_type("It met on Friday afternoon.", "date", "On what date did it meet?")
    assert has_answer_type("It met on April 25.", "date", "On what date did it meet?")


def test_which_ministry_needs_a_ministry_named():
    q = "Which ministry will draft the new AI law?"
    assert org_ok(q, "Guidelines were issued by the Ministry of Science and Technology.")
    assert not org_ok(q, "General Secretary Xi Jinping called for new AI laws.")
    assert org_ok("Who spoke?", "Anything at all.")


def test_an_english_determiner_is_no_name():
    assert not has_answer_type("An English translation is available online.", "name", "Who translated it into English?")


def test_focus_leaves_out_the_names_the_question_mentions():
    focus = focus_stems("Who chairs the Harbourview Community Garden committee?")
    assert len(focus) == 2  # chairs, committee
    assert not focus & focus_stems("Harbourview Community Garden")
    assert len(focus_stems("What autonomous-driving competition did he start?")) == 4  # hyphen split


def test_wh_noun():
    assert wh_noun("Which national plan is cited as a key directive?") is not None
    assert wh_noun("What kind of approach does China use?") is not None
    assert wh_noun("What are the future directions?") is None
