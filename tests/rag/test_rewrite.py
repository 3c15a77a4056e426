"""rag/rewrite.py: follow-up detection, the rule rewrite, and the LLM rewrite with its acceptance check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from rag.rewrite import Rewriter, acceptable, is_follow_up, rewrite, rule_rewrite

SESSION = "When was the Politburo study session on AI held?"
PREVIOUS = "and when was the previous one?"


class FakeRewriter:
    """A model whose rewrite we choose; records what it was asked."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.calls: list[tuple[str, list[str]]] = []

    def rewrite(self, question: str, history: Sequence[str]) -> tuple[str, dict[str, Any]]:
        self.calls.append((question, list(history)))
        return self.output, {"output": self.output}


@pytest.mark.parametrize(
    "question",
    [
        PREVIOUS,
        "And who presided over it?",
        "What about its risks?",
        "how about the chips?",
        "So who spoke?",
        "Okay, who spoke?",
        "Then what happened?",
        "When was it?",
        "Who gave it?",
        "Is that true?",
        "What did he say?",
    ],
)
def test_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who gave the lecture at the Politburo study session on AI?",
        SESSION,
        "What did Xi Jinping say about chips?",
        "Andrew Ng gave the lecture?",  # "And…" only as a whole word
        "Sonya asked about the Politburo?",
        # long enough to stand alone although it says "previous"
        "When was the previous Politburo study session on artificial intelligence held?",
    ],
)
def test_not_follow_ups(question: str) -> None:
    assert not is_follow_up(question)


def test_rule_rewrite_attaches_the_previous_topic() -> None:
    got = rule_rewrite(PREVIOUS, [SESSION])
    assert got.startswith("When was the previous one?")
    for word in ("politburo", "study", "session", "ai"):
        assert word in got.lower()
    assert not got.lower().startswith("and")


def test_rule_rewrite_uses_the_latest_question() -> None:
    got = rule_rewrite("So when was it?", ["Who gave the lecture?", "What did Xi say about AI chips?"])
    assert "chips" in got and "lecture" not in got
    assert got.startswith("When was it? (about: ")  # a leading "so" is dropped


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What about its risks?", "What about its risks? (about: xi ai chips)"),
        ("how about the date?", "How about the date? (about: xi ai chips)"),
        ("and what about its risks?", "What about its risks? (about: xi ai chips)"),  # only the "and" is dropped
    ],
)
def test_rule_rewrite_keeps_what_about(question: str, expected: str) -> None:
    assert rule_rewrite(question, ["Who gave the lecture?", "What did Xi say about AI chips?"]) == expected


def test_rule_rewrite_does_not_repeat_the_follow_ups_own_words() -> None:
    got = rule_rewrite("and when was the session held?", [SESSION])
    assert got.lower().count("session") == 1
    assert got.lower().count("held") == 1


@pytest.mark.parametrize("history", [[], ()])
def test_no_history_leaves_the_question_unchanged(history) -> None:
    assert rule_rewrite(PREVIOUS, history) == PREVIOUS
    query, record = rewrite(PREVIOUS, history)
    assert query == PREVIOUS
    assert record == {"history": [], "method": "none", "query": PREVIOUS}


def test_stand_alone_question_is_left_alone_even_with_history() -> None:
    model = FakeRewriter("something else entirely?")
    question = "Who gave the lecture at the Politburo study session on AI?"
    assert rule_rewrite(question, [SESSION]) == question
    query, record = rewrite(question, [SESSION], model)
    assert query == question and record["method"] == "none"
    assert model.calls == []  # the model is not even asked


@pytest.mark.parametrize(
    ("rewritten", "ok"),
    [
        ("When was the previous Politburo study session on AI held?", True),
        ("When was the previous one?", False),  # nothing from the history
        ("When was the Politburo study session on AI held?", False),  # dropped "previous"
        ("", False),
        ("When was the previous\nPolitburo study session?", False),  # more than one line
        ("When was the previous Politburo session? " * 10, False),  # too long
    ],
)
def test_acceptable(rewritten: str, ok: bool) -> None:
    assert acceptable(rewritten, PREVIOUS, [SESSION]) is ok


def test_llm_rewrite_is_used_when_acceptable() -> None:
    model = FakeRewriter("When was the previous Politburo study session on AI held?")
    assert isinstance(model, Rewriter)
    query, record = rewrite(PREVIOUS, [SESSION], model)
    assert query == "When was the previous Politburo study session on AI held?"
    assert record["method"] == "llm" and record["query"] == query
    assert record["llm"] == {"output": model.output}
    assert "llm_rejected" not in record
    assert model.calls == [(PREVIOUS, [SESSION])]


@pytest.mark.parametrize(
    "output",
    ["When was it?", "Sure! Here is your question:\nWhen was the previous Politburo session?", ""],
)
def test_rejected_llm_rewrite_falls_back_to_the_rule(output: str) -> None:
    query, record = rewrite(PREVIOUS, [SESSION], FakeRewriter(output))
    assert query == rule_rewrite(PREVIOUS, [SESSION])
    assert record["method"] == "rule" and record["query"] == query
    assert record["llm"] == {"output": output}
    assert "llm_rejected" in record
    assert record["history"] == [SESSION]


def test_without_a_model_the_rule_rewrites() -> None:
    query, record = rewrite(PREVIOUS, [SESSION])
    assert query == rule_rewrite(PREVIOUS, [SESSION])
    assert record["method"] == "rule"
    assert "llm" not in record
