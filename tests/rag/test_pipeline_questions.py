"""rag/pipeline.py and rag/verify.py for the questions people ask: several parts, summaries, typos, causes."""

from __future__ import annotations

import pytest

from rag.pipeline import MULTILINGUAL_HINT, merge_in_turn
from rag.types import Chunk, Hit, RankedList, SentenceCheck, chunk_id
from rag.verify import apply_policy, cause_clause, cause_supported, partial_refusal, support_score


def _hit(text: str, rank: int) -> Hit:
    return Hit(Chunk(chunk_id("s.txt", text), "s.txt", 0, len(text), text), rank, 1.0 / rank)


def test_merge_in_turn_takes_each_lists_best_first_and_each_chunk_once() -> None:
    a = RankedList("part 1", (_hit("a1", 1), _hit("a2", 2), _hit("shared", 3)))
    b = RankedList("part 2", (_hit("b1", 1), _hit("shared", 2)))
    merged = merge_in_turn([a, b])
    assert [h.chunk.text for h in merged] == ["a1", "b1", "a2", "shared"]
    assert [h.rank for h in merged] == [1, 2, 3, 4]


def test_cause_clause_and_its_support() -> None:
    sentence = "Zheng Nanning gave the lecture because he believes machines will rule the world."
    assert cause_clause(sentence) == "he believes machines will rule the world"
    passage = "Professor Zheng Nanning from Xi'an Jiaotong University gave the lecture on AI governance."
    assert not cause_supported(sentence, passage)
    assert cause_supported("Zheng Nanning gave the lecture.", passage)  # no cause given: nothing to check
    told = "The lecture was given because AI governance needs a new framework."
    assert cause_supported(told, "Xi said it was given because AI governance needs a new legal framework.")


def test_an_invented_reason_cuts_the_support() -> None:
    passage = "Professor Zheng Nanning from Xi'an Jiaotong University gave the lecture."
    plain, _, _ = support_score("Professor Zheng Nanning gave the lecture.", passage, 0.9)
    invented, _, problems = support_score(
        "Professor Zheng Nanning gave the lecture because he believes robots deserve votes.", passage, 0.9
    )
    assert invented < 0.6 <= plain
    assert any("reason" in p for p in problems)


def _check(text: str, status: str) -> SentenceCheck:
    return SentenceCheck(text, (1,) if status == "supported" else (), 0.9, 0.8, status)


@pytest.mark.parametrize("policy", ["flag", "drop", "strict"])
def test_a_part_the_documents_dont_answer_is_said_beside_the_answered_part(policy: str) -> None:
    answered = _check("Zheng Nanning is a professor at Xi'an Jiaotong University.", "supported")
    missing = _check("The documents don't say what competition he started.", "refusal")
    assert partial_refusal(missing.text) and not partial_refusal("The documents don't say.")
    assert apply_policy([answered, missing], policy) == [answered, missing]
    assert apply_policy([missing], policy) == []  # a refusal alone is never content
    bare = _check("Not in the documents.", "refusal")
    assert apply_policy([answered, bare], policy) == [answered]


def test_two_part_question_gets_a_passage_for_each_part(pipeline) -> None:
    answer = pipeline.ask("When was the previous AI study session held, and who translated the new readout?")
    d = answer.to_dict(include_trace=True)
    assert len(d["analysis"]["parts"]) == 2
    names = [lst["name"] for lst in d["trace"]["lists"]]
    assert {"part 1", "part 2"} <= set(names)
    sources = {h["source"].rsplit("/", 1)[-1][:3] for h in d["trace"]["fused"]["hits"][: answer.trace.cutoff]}
    assert len(sources) >= 2  # the 2018 date and the translator sit in different documents


def test_typo_is_corrected_and_shown_as_asked(pipeline) -> None:
    answer = pipeline.ask("Whta are the advantges China has in AI?")
    assert "advantages" in answer.query.lower() and "what" in answer.query.lower()
    assert answer.to_dict(include_trace=True)["trace"]["spelling"]["changes"]
    from rag.explain import explain

    assert "spelling:" in explain(answer)


def test_summary_reads_the_named_document(pipeline) -> None:
    answer = pipeline.ask("Summarize the governance article's section on data governance and privacy")
    assert answer.trace.analysis["kind"] == "summary"
    cited = {c.chunk.name[:3] for c in answer.citations}
    assert cited == {"003"}


def test_chinese_refusal_on_an_index_without_multilingual_vectors_names_the_rebuild(pipeline) -> None:
    if pipeline.index.manifest.multilingual_model:
        pytest.skip("the demo index has multilingual vectors")
    answer = pipeline.ask("这份文件提到了火星上的天气吗？")
    assert answer.abstained
    assert MULTILINGUAL_HINT in answer.reason
