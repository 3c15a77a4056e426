"""Generators turn a question and numbered passages into a `Generation`; one registry entry each."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.errors import ConfigError
from rag.types import Generation, Hit

if TYPE_CHECKING:
    from rag.embeddings import SentenceEncoder
    from rag.settings import GeneratorName, Settings


class Generator(Protocol):
    """Answers from passages numbered 1..n (passage i is `passages[i-1]`), citing them as [i].

    `stream` yields partial generations while the text is written, then the final one;
    `generate` returns the final one.
    """

    name: str

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Generation]: ...

    def generate(self, question: str, passages: Sequence[Hit]) -> Generation: ...


def extractive_generator(settings: Settings, embeddings: SentenceEncoder) -> Generator:
    """The extractive generator with the calibrated settings (also the strict policy's fallback)."""
    from rag.generators.extractive import ExtractiveGenerator

    return ExtractiveGenerator(
        embeddings,
        threshold=settings.abstain_threshold,
        max_sentences=settings.max_answer_sentences,
        sim_weight=settings.evidence_sim_weight,
        summary_words=settings.summary_words,
    )


def _local(settings: Settings, embeddings: SentenceEncoder) -> Generator:
    from rag.generators.llm import local_generator

    return local_generator(settings)


def _openai(settings: Settings, embeddings: SentenceEncoder) -> Generator:
    from rag.generators.llm import openai_generator

    return openai_generator(settings)


def _ollama(settings: Settings, embeddings: SentenceEncoder) -> Generator:
    from rag.generators.llm import ollama_generator

    return ollama_generator(settings)


# Built in; any other name is a plug-in: an entry point in `grounded.generators` or `package.module:factory`
# returning a LangChain BaseChatModel (rag.generators.plugins).
GENERATORS: dict[GeneratorName, Callable[[Settings, SentenceEncoder], Generator]] = {
    "extractive": extractive_generator,
    "local": _local,
    "openai": _openai,
    "ollama": _ollama,
}


def load_generator(settings: Settings, embeddings: SentenceEncoder) -> Generator:
    """The generator named by `settings.generator`: a built-in one, or a plug-in chat model."""
    factory = GENERATORS.get(settings.generator)  # type: ignore[call-overload]
    if factory is not None:
        generator = factory(settings, embeddings)
    else:
        from rag.generators.plugins import check_name, plugin_generator

        problem = check_name(settings.generator, GENERATORS)
        if problem:
            raise ConfigError(problem)
        generator = plugin_generator(settings.generator, settings)
    if hasattr(generator, "passage_words"):  # chat models read the sentences that matter, not whole chunks
        generator.passage_words = settings.llm_passage_words
    return generator


def check_available(settings: Settings) -> None:
    """Fail now, before anything is written, when the chosen generator's package, model or plug-in is missing."""
    if settings.generator == "local":
        from rag.generators.llm import check_local

        check_local()
    elif settings.generator == "ollama":
        from rag.generators.llm import check_ollama

        check_ollama()
    elif settings.generator not in GENERATORS:
        from rag.generators.plugins import resolve_factory

        resolve_factory(settings.generator)
