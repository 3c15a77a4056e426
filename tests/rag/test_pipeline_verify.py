"""The pipeline's citation check and policies: the real demo index, MiniLM and verifier, a scripted generator.

The generator is the only fake: a class whose answer text each test writes (copying real sentences
out of the passages the pipeline retrieved, or inventing some), so the policy logic of
`Pipeline.finish` is tested deterministically against real retrieval and real verification.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from rag.generators.extractive import ABSTAIN_TEXT
from rag.pipeline import Draft, Pipeline
from rag.text import split_sentences
from rag.types import Answer, Generation, Hit

pytestmark = pytest.mark.slow

LECTURE = "Who gave the lecture at the Politburo study session on AI?"
TELEPHONE = "Who invented the telephone?"
BELL = "Alexander Graham Bell invented the telephone in 1876."

Script = Callable[[str, Sequence[Hit]], str]


class FakeGenerator:
    """Writes the text `script(question, passages)` returns, in two partial pieces, then the final generation."""

    def __init__(self, script: Script, name: str = "fake") -> None:
        self.name = name
        self.script = script
        self.calls: list[tuple[str, tuple[Hit, ...]]] = []

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Generation]:
        self.calls.append((question, tuple(passages)))
        text = self.script(question, passages)
        half = len(text) // 2
        yield Generation(text[:half], False, "", {}, partial=True)
        yield Generation(text, False, "", {}, partial=True)
        yield Generation(text, False, "fake model answered", {}, {"kind": "fake", "raw": text})

    def generate(self, question: str, passages: Sequence[Hit]) -> Generation:
        *_, last = self.stream(question, passages)
        return last


class FakeRewritingGenerator(FakeGenerator):
    """Also a `Rewriter`: restates follow-ups the way we tell it to."""

    def __init__(self, script: Script, rewritten: str) -> None:
        super().__init__(script)
        self.rewritten = rewritten

    def rewrite(self, question: str, history: Sequence[str]) -> tuple[str, dict[str, Any]]:
        return self.rewritten, {"output": self.rewritten}


def copied(needle: str) -> Script:
    """The passage sentence containing `needle`, cited with that passage's number."""

    def script(question: str, passages: Sequence[Hit]) -> str:
        return sentence_with(needle, passages)

    return script


def sentence_with(needle: str, passages: Sequence[Hit]) -> str:
    for n, hit in enumerate(passages, 1):
        for s, e in split_sentences(hit.chunk.text):
            if needle in hit.chunk.text[s:e]:
                return f"{hit.chunk.text[s:e]} [{n}]"
    raise AssertionError(f"no retrieved passage says {needle!r}")


def fixed(text: str) -> Script:
    return lambda question, passages: text


def supported_plus_bell(question: str, passages: Sequence[Hit]) -> str:
    return f"{sentence_with('gave an explanatory lecture', passages)} {BELL} [1]"


def with_generator(pipeline: Pipeline, generator, **overrides: Any) -> Pipeline:
    """The demo pipeline's index, models and stages with another generator (and settings)."""
    settings = pipeline.settings.with_overrides(**overrides) if overrides else pipeline.settings
    pipe = Pipeline(settings, pipeline.index, pipeline.embeddings, generator, pipeline.stages)
    assert pipe.fallback is not generator and pipe.fallback.name == "extractive"
    # the same MiniLM and thresholds: share the session's verifier for its cache of passage-sentence vectors
    assert (pipe.verifier.support_threshold, pipe.verifier.relevance_threshold) == (
        pipeline.verifier.support_threshold,
        pipeline.verifier.relevance_threshold,
    )
    pipe.verifier = pipeline.verifier
    return pipe


def statuses(answer: Answer) -> list[str]:
    return [s.status for s in answer.sentences]


# --- policies --------------------------------------------------------------------------------


def test_flag_keeps_an_unsupported_sentence_and_marks_it(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(supported_plus_bell)).ask(LECTURE, policy="flag")
    assert answer.policy == "flag" and not answer.abstained
    assert "Zheng Nanning" in answer.text and BELL in answer.text
    assert statuses(answer) == ["supported", "unsupported"]
    zheng, bell = answer.sentences
    assert zheng.supported and not bell.supported
    assert bell.text == BELL and bell.support < pipeline.settings.support_threshold
    record = answer.trace.verification
    assert record["policy"] == "flag" and record["supported"] == 1 and record["total"] == 2
    assert [s["shown"] for s in record["sentences"]] == [True, True]
    assert answer.answered_by == "fake"


def test_drop_removes_the_unsupported_sentence(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(supported_plus_bell)).ask(LECTURE, policy="drop")
    assert not answer.abstained
    assert "Zheng Nanning" in answer.text and "Bell" not in answer.text
    assert statuses(answer) == ["supported"]
    assert "1 unsupported sentence(s) dropped" in answer.reason
    record = answer.trace.verification
    assert [s["shown"] for s in record["sentences"]] == [True, False]
    # citations are exactly the markers of what is shown, at real offsets inside their chunks
    (zheng,) = answer.sentences
    assert [c.n for c in answer.citations] == list(zheng.citations)
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert c.spans and all(c.chunk.start <= s < e <= c.chunk.end for s, e in c.spans)


def test_drop_with_nothing_supported_abstains(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(fixed(f"{BELL} [1]"))).ask(LECTURE, policy="drop")
    assert answer.abstained and answer.text == ABSTAIN_TEXT
    assert answer.citations == () and answer.sentences == ()
    assert answer.answered_by == "fake"
    assert "fallback" not in answer.trace.verification


def test_strict_keeps_supported_sentences_of_the_model(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(supported_plus_bell)).ask(LECTURE, policy="strict")
    assert not answer.abstained and answer.answered_by == "fake"
    assert statuses(answer) == ["supported"]
    assert "fallback" not in answer.trace.verification


def test_strict_with_nothing_supported_falls_back_to_extractive(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(fixed(f"{BELL} [1]"))).ask(LECTURE, policy="strict")
    assert not answer.abstained
    assert answer.answered_by == "extractive"
    assert answer.generator == "fake"
    assert "Zheng Nanning" in answer.text and "Bell" not in answer.text
    assert "extractive fallback" in answer.reason
    assert answer.sentences and all(s.supported for s in answer.sentences)
    fallback = answer.trace.verification["fallback"]
    assert fallback["generator"] == "extractive" and fallback["abstained"] is False
    assert answer.citations and all(c.spans for c in answer.citations)
    assert answer.to_dict()["answered_by"] == "extractive"


def test_strict_abstains_when_the_fallback_cannot_answer_either(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(fixed(f"{BELL} [1]"))).ask(TELEPHONE, policy="strict")
    assert answer.abstained and answer.text == ABSTAIN_TEXT
    assert answer.citations == () and answer.sentences == ()
    assert answer.answered_by == "fake"
    assert answer.trace.verification["fallback"]["abstained"] is True
    assert statuses(answer) == []
    assert [s["status"] for s in answer.trace.verification["sentences"]] == ["unsupported"]


def test_default_policy_is_the_setting(pipeline) -> None:
    gen = FakeGenerator(supported_plus_bell)
    assert with_generator(pipeline, gen).ask(LECTURE).policy == pipeline.settings.verify_policy == "strict"
    flagged = with_generator(pipeline, gen, verify_policy="flag").ask(LECTURE)
    assert flagged.policy == "flag" and statuses(flagged) == ["supported", "unsupported"]


def test_refusal_only_answer_abstains_with_the_models_reason(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(fixed("Not in the documents."))).ask(TELEPHONE, policy="drop")
    assert answer.abstained and answer.text == ABSTAIN_TEXT
    assert answer.reason == "the model said the passages don't answer"
    assert [s["status"] for s in answer.trace.verification["sentences"]] == ["refusal"]


def test_drop_reason_counts_only_unsupported_sentences(pipeline) -> None:
    def script(question: str, passages: Sequence[Hit]) -> str:
        return f"{sentence_with('gave an explanatory lecture', passages)} Not in the documents. {BELL} [1]"

    answer = with_generator(pipeline, FakeGenerator(script)).ask(LECTURE, policy="drop")
    assert statuses(answer) == ["supported"]
    assert "1 unsupported sentence(s) dropped" in answer.reason


# --- the JSON contract -----------------------------------------------------------------------


def test_to_dict_has_sentences_and_generator(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(supported_plus_bell)).ask(LECTURE, policy="flag")
    data = json.loads(json.dumps(answer.to_dict(include_trace=True)))
    assert data["generator"] == "fake" and data["answered_by"] == "fake"
    assert data["policy"] == "flag" and data["query"] == LECTURE
    assert len(data["sentences"]) == 2
    for s in data["sentences"]:
        assert {"text", "citations", "supported", "support", "status", "relevance", "note"} <= set(s)
        assert isinstance(s["citations"], list) and isinstance(s["supported"], bool)
        assert 0.0 <= s["support"] <= 1.0
    assert [s["supported"] for s in data["sentences"]] == [True, False]
    assert data["trace"]["verification"]["policy"] == "flag"
    assert data["trace"]["generation"] == {"kind": "fake", "raw": answer.trace.generation["raw"]}
    assert {"verify", "total", "generate"} <= set(data["timings_ms"])


# --- follow-ups ------------------------------------------------------------------------------


def test_follow_up_is_rewritten_with_the_history(pipeline) -> None:
    gen = FakeGenerator(copied("previous Politburo collective study session on AI"))
    answer = with_generator(pipeline, gen).ask(
        "and when was the previous one?", history=["When was the Politburo study session on AI held?"], policy="drop"
    )
    assert answer.question == "and when was the previous one?"
    assert answer.query != answer.question
    for word in ("politburo", "study", "session"):
        assert word in answer.query.lower()
    assert answer.trace.rewrite["method"] == "rule" and answer.trace.rewrite["query"] == answer.query
    assert gen.calls[0][0] == answer.query  # retrieval and generation saw the stand-alone query
    assert "2018" in answer.text and not answer.abstained
    assert answer.to_dict()["query"] == answer.query


def test_follow_up_rewritten_by_a_rewriting_generator(pipeline) -> None:
    rewritten = "When was the previous Politburo study session on AI held?"
    gen = FakeRewritingGenerator(copied("previous Politburo collective study session on AI"), rewritten)
    answer = with_generator(pipeline, gen).ask(
        "and when was the previous one?", history=["When was the Politburo study session on AI held?"]
    )
    assert answer.query == rewritten
    assert answer.trace.rewrite["method"] == "llm"


def test_history_is_ignored_when_rewriting_is_off(pipeline) -> None:
    gen = FakeGenerator(fixed(f"{BELL} [1]"))
    answer = with_generator(pipeline, gen, rewrite_follow_ups=False).ask(
        "and when was the previous one?", history=["When was the Politburo study session on AI held?"], policy="flag"
    )
    assert answer.query == "and when was the previous one?"
    assert answer.trace.rewrite["method"] == "none"


def test_stand_alone_question_is_not_rewritten(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(supported_plus_bell)).ask(
        LECTURE, history=["When was the Politburo study session on AI held?"]
    )
    assert answer.query == LECTURE and answer.trace.rewrite["method"] == "none"


# --- one draft, every policy -----------------------------------------------------------------


def test_one_draft_finished_under_each_policy(pipeline) -> None:
    gen = FakeGenerator(supported_plus_bell)
    pipe = with_generator(pipeline, gen)
    draft = pipe.draft(LECTURE)
    assert isinstance(draft, Draft) and not draft.generation.partial
    answers = {p: pipe.finish(draft, policy=p) for p in ("flag", "drop", "strict")}
    assert len(gen.calls) == 1  # generated once
    assert {p: a.policy for p, a in answers.items()} == {"flag": "flag", "drop": "drop", "strict": "strict"}
    assert statuses(answers["flag"]) == ["supported", "unsupported"]
    assert statuses(answers["drop"]) == statuses(answers["strict"]) == ["supported"]
    assert answers["drop"].text == answers["strict"].text != answers["flag"].text
    for a in answers.values():
        assert a.question == LECTURE and a.trace.fused == draft.retrieval.fused
        assert a.timings_ms["total"] >= a.timings_ms["verify"]
    assert "draft" in draft.timings  # finishing does not consume the draft
    again = pipe.finish(draft, policy="flag")
    assert again.text == answers["flag"].text


def test_one_draft_with_nothing_supported(pipeline) -> None:
    pipe = with_generator(pipeline, FakeGenerator(fixed(f"{BELL} [1]")))
    draft = pipe.draft(LECTURE)
    flag, drop, strict = (pipe.finish(draft, policy=p) for p in ("flag", "drop", "strict"))
    assert not flag.abstained and BELL in flag.text and statuses(flag) == ["unsupported"]
    assert drop.abstained and drop.answered_by == "fake"
    assert not strict.abstained and strict.answered_by == "extractive"


def test_stream_yields_partials_then_the_checked_answer(pipeline) -> None:
    items = list(with_generator(pipeline, FakeGenerator(supported_plus_bell)).stream(LECTURE))
    *partials, answer = items
    assert len(partials) == 2 and all(isinstance(g, Generation) and g.partial for g in partials)
    assert isinstance(answer, Answer) and answer.policy == "strict"
    assert statuses(answer) == ["supported"]


# --- the evidence gate (llm_evidence_gate) ------------------------------------------------------------------
NEXT_SESSION = "When is the next Politburo study session on AI scheduled?"


def test_the_evidence_gate_withholds_a_copied_answer_to_a_question_the_documents_do_not_answer(pipeline) -> None:
    """A small model copies a real sentence (the check calls it supported); the extractive scorer finds no
    evidence for the question, so the answer is withheld."""
    answer = with_generator(pipeline, FakeGenerator(copied("April 25"))).ask(NEXT_SESSION, policy="flag")
    assert answer.abstained and answer.text == ABSTAIN_TEXT and not answer.citations
    gate = answer.trace.verification["evidence_gate"]
    assert gate["abstained"] and "no evidence" in answer.reason
    assert "fallback" not in answer.trace.verification  # the extractive scorer already said no
    ungated = with_generator(pipeline, FakeGenerator(copied("April 25")), llm_evidence_gate=False)
    assert not ungated.ask(NEXT_SESSION, policy="flag").abstained


def test_the_evidence_gate_keeps_an_answer_the_passages_support(pipeline) -> None:
    answer = with_generator(pipeline, FakeGenerator(copied("gave an explanatory lecture"))).ask(LECTURE)
    assert not answer.abstained and "Zheng Nanning" in answer.text
    assert answer.trace.verification["evidence_gate"]["abstained"] is False
    assert answer.answered_by == "fake"
