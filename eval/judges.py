"""ALCE citation judges: who decides whether a sentence's cited passages support it.

    grounded eval eval/data/demo_questions.jsonl --judge llm     # the configured OpenAI-compatible model
    grounded eval eval/data/demo_questions.jsonl --judge local   # the packaged SmolLM2 (xllamacpp)

`self` (the default) is our own verifier, the same check that filtered the answer's sentences, so
with the check on its citation figures are high by construction: reports label them "self-judged".
`llm` asks any OpenAI-compatible model (GROUNDED_OPENAI_BASE_URL / _MODEL / _API_KEY), one short
strict yes/no question per sentence; `local` asks the packaged SmolLM2 the same way. Every judge
remembers its verdicts per (sentence, passages): the same sentence recurs under every policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError, GeneratorError

if TYPE_CHECKING:
    from rag.generators.llm import ChatGenerator
    from rag.pipeline import Pipeline
    from rag.settings import Settings

JUDGE_NAMES = ("self", "llm", "local")

JUDGE_SYSTEM = (
    "You check citations. You are given numbered passages and one sentence. Answer yes only if the "
    "passages state everything the sentence claims; answer no if any part of it is missing, different or "
    "only guessed. Reply with one word: yes or no."
)
JUDGE_MAX_TOKENS = 8

_VERDICT = re.compile(r"\b(yes|no|true|false|supported|unsupported|not supported)\b|(是|否|不)", re.IGNORECASE)
_POSITIVE = {"yes", "true", "supported", "是"}


def judge_messages(sentence: str, passages: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages asking whether `passages` support `sentence`."""
    numbered = "\n\n".join(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(passages, 1))
    user = f"Passages:\n{numbered}\n\nSentence: {' '.join(sentence.split())}\n\nDo the passages support the sentence? (yes/no)"
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(reply: str) -> bool | None:
    """True for a yes, False for a no (the first verdict word wins), None when the reply has neither.

    >>> parse_verdict("Yes."), parse_verdict("**No** - the date differs"), parse_verdict("maybe")
    (True, False, None)
    """
    m = _VERDICT.search(reply)
    if m is None:
        return None
    word = (m.group(1) or m.group(2)).lower()
    return word in _POSITIVE


class CitationJudge:
    """A named (sentence, passage texts) -> bool judge with its verdicts remembered.

    >>> judge = load_judge("self", pipeline)
    >>> judge("Zheng Nanning gave the lecture.", [passage_text]), judge.label
    (True, 'self-judged')
    """

    def __init__(self, name: str, label: str, decide: Callable[[str, Sequence[str]], bool], **info: Any) -> None:
        self.name = name
        self.label = label
        self.info = info  # what the summary records about the judge (model, endpoint)
        self._decide = decide
        self.verdicts: dict[tuple[str, tuple[str, ...]], bool] = {}
        self.calls = 0  # verdicts actually asked for (cache misses)

    def __call__(self, sentence: str, passages: Sequence[str]) -> bool:
        key = (sentence, tuple(passages))
        if key not in self.verdicts:
            self.calls += 1
            self.verdicts[key] = bool(self._decide(sentence, list(passages)))
        return self.verdicts[key]

    def record(self) -> dict[str, Any]:
        """The judge as a summary records it."""
        out: dict[str, Any] = {"judge": self.name, "judge_label": self.label}
        unparsed = getattr(self._decide, "unparsed", None)
        if self.info or unparsed is not None:
            out["judge_info"] = {**self.info, "verdicts": len(self.verdicts)}
            if unparsed is not None:
                out["judge_info"]["unparsed_replies"] = unparsed  # counted as "no"
        return out


class LLMJudge:
    """Asks a chat model whether the passages support the sentence; an unreadable reply counts as no."""

    def __init__(self, generator: ChatGenerator) -> None:
        self.generator = generator
        self.unparsed = 0  # replies that were neither yes nor no

    def __call__(self, sentence: str, passages: Sequence[str]) -> bool:
        from rag.generators.llm import _Reply

        reply = _Reply()
        try:
            for _ in self.generator._chat(judge_messages(sentence, passages), reply, max_tokens=JUDGE_MAX_TOKENS):
                pass
        except GeneratorError as e:
            raise GeneratorError(
                f"the {self.generator.name} citation judge ({self.generator.model_name}): {e}"
            ) from None
        verdict = parse_verdict(reply.text)
        if verdict is None:
            self.unparsed += 1
        return bool(verdict)


def _llm_settings(settings: Settings) -> Settings:
    """The settings a judge's chat model is built with: greedy, a few tokens."""
    return settings.with_overrides(llm_temperature=0.0, llm_max_tokens=JUDGE_MAX_TOKENS)


def self_judge(pipeline: Pipeline) -> CitationJudge:
    """Our own verifier (`pipeline.verifier.supports`)."""
    return CitationJudge("self", "self-judged", pipeline.verifier.supports)


def openai_judge(pipeline: Pipeline) -> CitationJudge:
    """The configured OpenAI-compatible model (GROUNDED_OPENAI_BASE_URL, _MODEL, _API_KEY)."""
    from rag.generators.llm import openai_generator

    s = pipeline.settings
    if s.openai_api_key is None and "api.openai.com" in s.openai_base_url:
        raise ConfigError(
            "the llm citation judge needs a key for api.openai.com: set GROUNDED_OPENAI_API_KEY (or OPENAI_API_KEY),"
            " or point GROUNDED_OPENAI_BASE_URL at a local server (Ollama, vLLM, llama.cpp)"
        )
    gen = openai_generator(_llm_settings(s))
    llm = LLMJudge(gen)
    return CitationJudge("llm", f"judged by {gen.model_name}", llm, model=gen.model_name, endpoint=gen.endpoint)


def local_judge(pipeline: Pipeline) -> CitationJudge:
    """The packaged SmolLM2 through the in-process xllamacpp server."""
    from rag.generators.llm import check_local, local_generator

    check_local()
    gen = local_generator(_llm_settings(pipeline.settings))
    llm = LLMJudge(gen)
    return CitationJudge("local", f"judged by {gen.model_name}", llm, model=gen.model_name, endpoint=gen.endpoint)


JUDGES: dict[str, Callable[[Pipeline], CitationJudge]] = {
    "self": self_judge,
    "llm": openai_judge,
    "local": local_judge,
}


def load_judge(name: str, pipeline: Pipeline) -> CitationJudge:
    """The citation judge registered under `name` for this pipeline's settings."""
    try:
        factory = JUDGES[name]
    except KeyError:
        raise ConfigError(f"unknown citation judge {name!r}: choose one of {', '.join(JUDGES)} (--judge)") from None
    return factory(pipeline)
