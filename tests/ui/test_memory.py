"""ui/memory.py: the heap setting and what a chat session keeps of each answer."""

from __future__ import annotations

import platform

import pytest

from rag.pipeline import Pipeline
from ui.app import ChatService
from ui.memory import KEPT_ANSWERS, kept_answers, limit_heap_growth, session_answer

QUESTION = "Who gave the lecture at the Politburo study session on AI?"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_heap_limit_applies_on_glibc_unless_the_user_chose_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limit_heap_growth() is True
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")  # the user's own setting wins
    assert limit_heap_growth() is False


def test_long_conversations_keep_only_recent_answers_in_full() -> None:
    answers: list[dict] = []
    for i in range(KEPT_ANSWERS + 7):
        answers = kept_answers(answers, {"query": f"q{i}", "citations": [{"n": 1}], "trace": {"fused": {"hits": []}}})
    assert [a["query"] for a in answers] == [f"q{i}" for i in range(KEPT_ANSWERS + 7)]  # follow-ups read them all
    assert sum("citations" in a for a in answers) == KEPT_ANSWERS
    assert all("citations" not in a for a in answers[:7])


@pytest.mark.slow
def test_a_kept_answer_opens_the_same_sources(pipeline: Pipeline) -> None:
    """The slim record shows every chip's source exactly as the full answer does, at under half the size."""
    service = ChatService(pipeline)
    full = pipeline.ask(QUESTION).to_dict(include_trace=True)
    slim = session_answer(full)
    assert len(repr(slim)) < len(repr(full)) / 2
    for n in range(1, pipeline.settings.top_k + 2):
        assert service.source(slim, n) == service.source(full, n)
