"""Follow-up questions made stand-alone before retrieval: by the LLM when one is configured, else by a rule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from rag.text import content_words, words

_LEADING = re.compile(r"^\s*(?:and|but|so|also|then|ok(?:ay)?)\b[\s,]*", re.IGNORECASE)  # dropped in the rewrite
_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how) (?:about|of)\b", re.IGNORECASE)  # kept: "What about its date?"
ANAPHORA = frozenset(
    """it its they them their theirs this that these those he him his she her there one ones former latter
    previous prior earlier next same then""".split()
)
MAX_CONTENT_WORDS = 4


@runtime_checkable
class Rewriter(Protocol):
    """A model that can restate a follow-up (ChatGenerator.rewrite)."""

    def rewrite(self, question: str, history: Sequence[str]) -> tuple[str, dict[str, Any]]: ...


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the conversation: opens with "and/what about", or is short and says "it/that/one"."""
    if _LEADING.match(question) or _ABOUT.match(question):
        return True
    tokens = set(words(question))
    return bool(tokens & ANAPHORA) and len(content_words(question)) <= MAX_CONTENT_WORDS


def rule_rewrite(question: str, history: Sequence[str]) -> str:
    """The follow-up with the previous question's topic words attached.

    >>> rule_rewrite("and when was the previous one?", ["When was the AI study session held?"])
    'When was the previous one? (about: ai study session held)'
    """
    if not history or not is_follow_up(question):
        return question
    core = _LEADING.sub("", question).strip() or question.strip()
    core = core[:1].upper() + core[1:]
    own = set(words(core))
    topic = [w for w in dict.fromkeys(content_words(history[-1])) if w not in own]
    return f"{core} (about: {' '.join(topic)})" if topic else core


def acceptable(rewritten: str, question: str, history: Sequence[str]) -> bool:
    """Whether an LLM's rewrite can be used: one short question that keeps the follow-up's own words."""
    if not rewritten or len(rewritten) > 300 or "\n" in rewritten.strip():
        return False
    own = set(content_words(question))
    context = set(content_words(" ".join(history)))
    got = set(content_words(rewritten))
    return own <= got | context and bool(got & context)


def rewrite(question: str, history: Sequence[str], model: Rewriter | None = None) -> tuple[str, dict[str, Any]]:
    """(stand-alone query, trace record) for a question asked after `history` (earlier questions, oldest first)."""
    record: dict[str, Any] = {"history": list(history), "method": "none", "query": question}
    if not history or not is_follow_up(question):
        return question, record
    if model is not None:
        text, detail = model.rewrite(question, history)
        record["llm"] = detail
        if acceptable(text, question, history):
            record.update(method="llm", query=text)
            return text, record
        record["llm_rejected"] = "the model's rewrite dropped the question's words or added none of the history's"
    query = rule_rewrite(question, history)
    record.update(method="rule", query=query)
    return query, record
