"""eval/judges.py: the pluggable ALCE citation judge (self, llm, local).

The `llm` judge is tested as the `openai` generator is (tests/rag/generators/test_llm.py): against
the packaged SmolLM2 on a real xllamacpp server on 127.0.0.1 with an API key, offline, no mocks.
"""

from __future__ import annotations

import json

import pytest

from eval.dataset import load_questions
from eval.judges import JUDGES, CitationJudge, judge_messages, load_judge, parse_verdict
from eval.runner import format_summary, run
from rag.errors import ConfigError, GeneratorError
from rag.generators.llm import LocalServer, packaged_gguf

API_KEY = "judge-key"
SENTENCE = "Zheng Nanning, a professor at Xi'an Jiaotong University, gave the lecture."
PASSAGE = (
    "Comrade Zheng Nanning (郑南宁), a professor at Xi'an Jiaotong University, gave an explanatory "
    "lecture on this topic and put forth suggestions for work."
)
OTHER = "The Politburo held its study session on April 25."


# --- pure: the prompt and the verdict ----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("yes", True),
        ("Yes.", True),
        (" **YES** the passage says so", True),
        ("No", False),
        ("no, the date differs", False),
        ("Answer: no. (yes would need the date)", False),  # the first verdict word wins
        ("Not supported.", False),
        ("supported", True),
        ("True", True),
        ("false", False),
        ("是", True),
        ("否", False),
        ("", None),
        ("I cannot tell", None),
        ("nobody knows", None),  # whole words only: "no" inside "nobody" is not a verdict
        ("yesterday", None),
    ],
)
def test_parse_verdict(reply: str, verdict: bool | None) -> None:
    assert parse_verdict(reply) is verdict


def test_judge_messages_number_the_passages_and_ask_one_question() -> None:
    system, user = judge_messages("  Zheng Nanning\n gave it. ", [PASSAGE, OTHER])
    assert system["role"] == "system" and "yes or no" in system["content"]
    assert user["role"] == "user"
    assert f"[1] {PASSAGE}" in user["content"] and f"[2] {OTHER}" in user["content"]
    assert "Sentence: Zheng Nanning gave it." in user["content"]


def test_citation_judge_remembers_verdicts_per_sentence_and_passages() -> None:
    asked: list[tuple[str, list[str]]] = []

    def decide(sentence: str, passages: list[str]) -> bool:
        asked.append((sentence, passages))
        return "Zheng" in " ".join(passages)

    judge = CitationJudge("test", "test-judged", decide)
    assert judge(SENTENCE, [PASSAGE]) is True
    assert judge(SENTENCE, (PASSAGE,)) is True  # same key whatever the sequence type
    assert judge(SENTENCE, [OTHER]) is False
    assert judge(SENTENCE, [PASSAGE, OTHER]) is True
    assert judge.calls == len(asked) == 3
    assert judge.record() == {"judge": "test", "judge_label": "test-judged"}


def test_registry_names_and_unknown_judge(pipeline) -> None:
    assert set(JUDGES) == {"self", "llm", "local"}
    with pytest.raises(ConfigError, match=r"unknown citation judge 'gpt'.*self, llm, local"):
        load_judge("gpt", pipeline)


def test_llm_judge_at_api_openai_com_without_a_key_says_the_fix(pipeline) -> None:
    p = pipeline.with_settings(openai_base_url="https://api.openai.com/v1")
    assert p.settings.openai_api_key is None
    with pytest.raises(ConfigError, match="GROUNDED_OPENAI_API_KEY"):
        load_judge("llm", p)


# --- self: our verifier -------------------------------------------------------------------------


@pytest.mark.slow
def test_self_judge_is_the_verifier_and_the_summary_says_self_judged(pipeline) -> None:
    judge = load_judge("self", pipeline)
    assert judge(SENTENCE, [PASSAGE]) == pipeline.verifier.supports(SENTENCE, [PASSAGE])
    questions = load_questions("eval/data/demo_questions.jsonl")[:3]
    ((records, summary),) = run(pipeline, questions).values()  # the default judge
    assert summary["judge"] == "self" and summary["judge_label"] == "self-judged"
    assert "self-judged" in format_summary(summary)
    assert any(r["citation_recall"] is not None for r in records)


# --- llm: a real OpenAI-compatible server (the packaged SmolLM2) -------------------------------


@pytest.fixture(scope="module")
def server():
    srv = LocalServer(packaged_gguf(), 2048, 2, api_key=API_KEY)
    yield srv
    del srv


def llm_pipeline(pipeline, url: str, key: str = API_KEY):
    return pipeline.with_settings(openai_base_url=url, openai_api_key=key, openai_model="smollm2")


@pytest.mark.slow
def test_llm_judge_returns_booleans_and_caches(pipeline, server) -> None:
    judge = load_judge("llm", llm_pipeline(pipeline, server.url + "/v1"))
    assert judge.name == "llm" and judge.label == "judged by smollm2"
    first = judge(SENTENCE, [PASSAGE])
    other = judge("The Politburo met on April 25.", [PASSAGE])
    assert isinstance(first, bool) and isinstance(other, bool)
    assert judge.calls == 2
    assert judge(SENTENCE, [PASSAGE]) is first and judge.calls == 2  # remembered, not asked again
    info = judge.record()["judge_info"]
    assert info["model"] == "smollm2" and info["endpoint"] == server.url + "/v1"
    assert info["verdicts"] == 2 and 0 <= info["unparsed_replies"] <= 2
    print(f"smollm2 verdicts: supported={first}, unsupported={other}, unparsed={info['unparsed_replies']}")


@pytest.mark.slow
def test_llm_judged_run_records_the_judge(pipeline, server) -> None:
    p = llm_pipeline(pipeline, server.url + "/v1")
    questions = load_questions("eval/data/demo_questions.jsonl")[:3]
    results = run(p, questions, policies=["flag", "strict"], judge="llm")
    for policy, (records, summary) in results.items():
        assert summary["judge"] == "llm" and summary["judge_label"] == "judged by smollm2", policy
        assert summary["judge_info"]["model"] == "smollm2"
        assert summary["judge_info"]["verdicts"] >= 1
        assert "judged by smollm2" in format_summary(summary)
        for r in records:
            assert r["citation_recall"] is None or 0.0 <= r["citation_recall"] <= 1.0
        json.dumps(summary)
    # both policies share one judge: the same sentences were asked once
    flag, strict = (results[p][1]["judge_info"]["verdicts"] for p in ("flag", "strict"))
    assert flag == strict


@pytest.mark.slow
def test_llm_judge_with_a_wrong_key_is_one_line_naming_the_judge_and_the_fix(pipeline, server) -> None:
    judge = load_judge("llm", llm_pipeline(pipeline, server.url + "/v1", key="sk-wrong-0123456789"))
    with pytest.raises(GeneratorError) as info:
        judge(SENTENCE, [PASSAGE])
    message = str(info.value)
    assert message.startswith("the openai citation judge (smollm2)")
    assert "GROUNDED_OPENAI_API_KEY" in message and server.url in message
    assert "sk-wrong-0123456789" not in message and "\n" not in message


@pytest.mark.slow
def test_local_judge_uses_the_packaged_model(pipeline) -> None:
    judge = load_judge("local", pipeline)
    assert judge.name == "local" and judge.label == "judged by SmolLM2-135M-Instruct"
    assert isinstance(judge(SENTENCE, [PASSAGE]), bool)
    assert judge.record()["judge_info"]["endpoint"].startswith("http://127.0.0.1:")
