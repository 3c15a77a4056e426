"""rag/spelling.py: typo correction of question words against the index's vocabulary, and Index.vocabulary()."""

from __future__ import annotations

import dataclasses

import pytest

from rag.index import Index
from rag.settings import Settings
from rag.spelling import Correction, Speller, Vocabulary, english_words, vocabulary_of

VOCAB = vocabulary_of(
    [
        "The four advantages of the lecture. The session was held in Nanning. Harvard competes in sports.",
        "Zheng Nanning gave the lecture; sessions on governance followed. Glorp glorp glorp, florp.",
    ]
)


def fix(question: str, vocabulary=VOCAB) -> Correction:
    return Speller(vocabulary).correct(question)


def test_vocabulary_counts_lower_case_words_and_knows_names():
    assert VOCAB["lecture"] == 2 and VOCAB["nanning"] == 2 and VOCAB["glorp"] == 3
    assert "nanning" not in VOCAB.lowercase and "zheng" not in VOCAB.lowercase  # only ever capitalised: names
    assert "lecture" in VOCAB.lowercase
    assert vocabulary_of(["人工智能 and AI"]) == {"and": 1, "ai": 1}  # CJK left out


def test_misspelt_words_are_corrected_keeping_case_and_punctuation():
    got = fix("Whta was the lectrue in the sesion about?")
    assert got.text == "What was the lecture in the session about?"
    assert got.changes == (("Whta", "What"), ("lectrue", "lecture"), ("sesion", "session"))


def test_a_question_word_wins_a_tie_at_the_start():
    assert fix("Wich lecture?", vocabulary_of(["with a lecture"])).text == "Which lecture?"


def test_nothing_to_correct_returns_the_question_itself():
    got = fix("When was the session held in Nanning?")
    assert got == Correction("When was the session held in Nanning?") and not got.changed


@pytest.mark.parametrize(
    "question",
    [
        "Did Nanning host the session?",  # a rare word of the corpus
        "How many sports does Yale compete in?",  # a name not in the corpus (only Harvard is)
        "Did Zhegn give the lecture?",  # capitalised mid-sentence: a name, even unknown
        "Was teh lecture long?",  # three letters or fewer
        "Was the lecture on COVID19 or H5N1?",  # codes and acronyms
        "Were the governances discussed?",  # a form of an indexed word (same stem)
        "What did it cost?",  # an English word the corpus lacks is not a typo
        "郑南宁是哪所大学的教授？",  # Chinese
        "Did the lecture happen in 2025?",
    ],
)
def test_never_changed(question):
    assert fix(question).text == question


def test_a_capitalised_first_word_is_never_corrected_into_a_name():
    assert fix("Zhegn lectured?").text == "Zhegn lectured?"
    assert fix("did zhegn lecture?").text == "did zheng lecture?"  # lower case: a misspelt word


def test_distance_budget_one_for_short_words_two_for_long():
    assert fix("the lekturr").text == "the lekturr"  # 7 letters, 2 edits: too far
    assert fix("the lecturre").text == "the lecture"  # 1 edit
    assert fix("the advantgs").text == "the advantages"  # 8 letters, 2 edits


def test_the_most_frequent_candidate_wins_a_tie():
    assert "blorp" not in english_words()
    assert fix("a blorp").text == "a glorp"  # glorp 3, florp 1: both one edit away


def test_number_typed_as_a_short_word_between_determiner_and_plural():
    assert fix("What are the for advantges?").text == "What are the four advantages?"
    assert fix("What is the for lecture?").text == "What is the for lecture?"  # not before a plural
    assert fix("Is it for the advantages?").text == "Is it for the advantages?"
    no_four = vocabulary_of(["the advantages"])
    assert fix("What are the for advantages?", no_four).text == "What are the for advantages?"


def test_correction_is_frozen_and_serialises():
    got = fix("Whta lecture?")
    assert got.to_dict() == {"text": "What lecture?", "changes": [["Whta", "What"]]}
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.text = "x"  # type: ignore[misc]


def test_a_plain_mapping_is_a_vocabulary_too():
    assert fix("the lectrue", {"lecture": 1}).text == "the lecture"
    assert isinstance(VOCAB, Vocabulary)


@pytest.mark.slow
def test_demo_corpus_vocabulary_corrects_the_issue_question(demo_index: Settings):
    index = Index.open(demo_index.index)
    vocabulary = index.vocabulary()
    assert vocabulary is index.vocabulary()  # cached
    assert vocabulary["nanning"] >= 1 and "nanning" not in vocabulary.lowercase
    speller = Speller(vocabulary)
    got = speller.correct("Whta are the for advantges China has in AI?")
    assert got.text == "What are the four advantages China has in AI?"
    assert got.changes == (("Whta", "What"), ("for", "four"), ("advantges", "advantages"))
    for question in (
        "Which university does Zheng Nanning come from, and what competition did he start?",
        "When was the previous AI session held, and who translated the new readout?",
        "How many sports does Yale compete in?",
    ):
        assert speller.correct(question).text == question
    index.close()
