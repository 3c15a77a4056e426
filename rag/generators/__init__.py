"""Generators turn a question and numbered passages into a `Generation`; one registry entry each."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from rag.errors import ConfigError
from rag.types import Generation, Hit

if TYPE_CHECKING:
    from rag.embeddings import SentenceTransformerEmbeddings
    from rag.settings import GeneratorName, Settings


class Generator(Protocol):
    """Answers from passages numbered 1..n (passage i is `passages[i-1]`), citing them as [i].

    `stream` yields partial generations while the text is written, then the final one;
    `generate` returns the final one.
    """

    name: str

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Generation]: ...

    def generate(self, question: str, passages: Sequence[Hit]) -> Generation: ...


def extractive_generator(settings: Settings, embeddings: SentenceTransformerEmbeddings) -> Generator:
    """The extractive generator with the calibrated settings (also the strict policy's fallback)."""
    from rag.generators.extractive import ExtractiveGenerator

    return ExtractiveGenerator(
        embeddings,
        threshold=settings.abstain_threshold,
        max_sentences=settings.max_answer_sentences,
        sim_weight=settings.evidence_sim_weight,
    )


def _local(settings: Settings, embeddings: SentenceTransformerEmbeddings) -> Generator:
    from rag.generators.llm import local_generator

    return local_generator(settings)


def _openai(settings: Settings, embeddings: SentenceTransformerEmbeddings) -> Generator:
    from rag.generators.llm import openai_generator

    return openai_generator(settings)


GENERATORS: dict[GeneratorName, Callable[[Settings, SentenceTransformerEmbeddings], Generator]] = {
    "extractive": extractive_generator,
    "local": _local,
    "openai": _openai,
}


def load_generator(settings: Settings, embeddings: SentenceTransformerEmbeddings) -> Generator:
    """The generator named by `settings.generator`."""
    try:
        factory = GENERATORS[settings.generator]
    except KeyError:
        known = ", ".join(sorted(GENERATORS))
        raise ConfigError(
            f"unknown generator {settings.generator!r}: choose one of {known} (--generator or GROUNDED_GENERATOR)"
        ) from None
    return factory(settings, embeddings)


def check_available(settings: Settings) -> None:
    """Fail now, before anything is written, when the chosen generator's package or model is missing."""
    if settings.generator == "local":
        from rag.generators.llm import check_local

        check_local()
