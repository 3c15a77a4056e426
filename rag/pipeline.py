"""The question-answering pipeline: embed → dense + BM25 → fuse → cut-off → generate → Answer + Trace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rag.embeddings import SentenceTransformerEmbeddings, load_embeddings
from rag.errors import QuestionError
from rag.fusion import reciprocal_rank_fusion
from rag.generators import Generator, load_generator
from rag.index import Index
from rag.rescoring import SentenceMaxSim
from rag.retrievers import (
    BM25Retriever,
    DenseRetriever,
    GroundedRetriever,
    MultilingualRetriever,
    Query,
    RetrieverStage,
)
from rag.settings import Settings
from rag.text import is_cjk
from rag.types import Answer, Citation, RankedList, Trace

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Retrieval:
    """Every list one retrieval produced: each stage's, and the fused one."""

    query: Query
    lists: tuple[RankedList, ...]
    fused: RankedList


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000


def _crosses_script(question: str, multilingual: RankedList) -> bool:
    """A CJK question, or a best multilingual match in another script: only that list can see it."""
    top = multilingual.hits[0].chunk.text if multilingual.hits else ""
    return is_cjk(question) or (bool(top) and is_cjk(top) != is_cjk(question))


def check_question(question: str) -> str:
    """The question stripped, or a QuestionError saying what to ask instead."""
    q = " ".join(question.split())
    if not q:
        raise QuestionError('empty question: ask something, e.g. grounded ask "Who gave the lecture?"')
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is {len(q)} characters; keep it under {MAX_QUESTION_CHARS}")
    return q


class Pipeline:
    """Answers questions from an index, leaving a trace of every stage.

    >>> pipe = Pipeline.from_settings(Settings())
    >>> answer = pipe.ask("Who gave the lecture at the Politburo study session on AI?")
    >>> answer.text, [c.chunk.name for c in answer.citations]
    ('… Zheng Nanning … [1]', ['000_eb440050df25cd3d.txt'])
    """

    def __init__(
        self,
        settings: Settings,
        index: Index,
        embeddings: SentenceTransformerEmbeddings,
        generator: Generator,
        stages: tuple[RetrieverStage, ...] | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embeddings = embeddings
        self.generator = generator
        self.stages = stages or (DenseRetriever(index), BM25Retriever(index))
        self.rescorer = SentenceMaxSim(embeddings, settings.sentence_depth) if settings.sentence_depth else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        """Open the index at `settings.index` and load the models it and the generator need."""
        index = Index.open(settings.index)
        index.check_compatible(settings.embedding_model)
        embeddings = load_embeddings(
            settings.embedding_model,
            threads=settings.threads,
            batch_size=settings.embed_batch_size,
            precision=settings.embed_precision,
        )
        index.embeddings = embeddings
        stages: tuple[RetrieverStage, ...] = (DenseRetriever(index), BM25Retriever(index))
        if index.manifest.multilingual_model:
            multi = load_embeddings(index.manifest.multilingual_model, threads=1)
            stages += (MultilingualRetriever(index, multi),)
        return cls(settings, index, embeddings, load_generator(settings, embeddings), stages)

    def with_settings(self, **overrides: object) -> Pipeline:
        """The same index and models with other retrieval/generation settings (e.g. top_k)."""
        settings = self.settings.with_overrides(**overrides)
        keys = ("generator", "abstain_threshold", "max_answer_sentences", "evidence_sim_weight")
        same = all(getattr(settings, k) == getattr(self.settings, k) for k in keys)
        generator = self.generator if same else load_generator(settings, self.embeddings)
        return Pipeline(settings, self.index, self.embeddings, generator, self.stages)

    def as_retriever(self, k: int | None = None) -> GroundedRetriever:
        """This pipeline's hybrid retrieval as a LangChain retriever."""
        return GroundedRetriever(pipeline=self, k=k)

    def retrieve(self, question: str, timer: _Timer | None = None) -> Retrieval:
        """Run every retriever stage and fuse their lists."""
        timer = timer or _Timer()
        s = self.settings
        with timer("embed_query"):
            query = Query(question, self.embeddings.encode([question])[0])
        lists = []
        for stage in self.stages:
            with timer(stage.name):
                lists.append(stage.retrieve(query, s.candidates))
        named = {"dense": s.dense_weight, "bm25": s.bm25_weight, "multilingual": s.multilingual_weight}
        weights = [named.get(lst.name, 1.0) for lst in lists]
        for i, lst in enumerate(lists):
            if lst.name == "multilingual" and _crosses_script(question, lst):
                weights[i] = s.multilingual_weight_cross
        with timer("fuse"):
            fused = reciprocal_rank_fusion(lists, k=s.rrf_k, weights=weights)
        if self.rescorer is not None:  # re-score the top of the fusion by best sentence, then fuse all three
            with timer("sentences"):
                lists.append(self.rescorer.rescore(query, fused))
            weights.append(s.sentence_weight)
            with timer("fuse"):
                fused = reciprocal_rank_fusion(lists, k=s.rrf_k, weights=weights)
        return Retrieval(query, tuple(lists), fused)

    def ask(self, question: str) -> Answer:
        """Answer one question with citations; abstains when the passages don't support an answer."""
        question = check_question(question)
        timer = _Timer()
        t0 = time.perf_counter()
        retrieval = self.retrieve(question, timer)
        passages = retrieval.fused.hits[: self.settings.top_k]
        with timer("generate"):
            gen = self.generator.generate(question, passages)
        citations = tuple(
            Citation(n, passages[n - 1].chunk, passages[n - 1].score, spans) for n, spans in sorted(gen.cited.items())
        )
        timer.ms["total"] = (time.perf_counter() - t0) * 1000
        trace = Trace(
            question=question,
            query=retrieval.query.text,
            lists=retrieval.lists,
            fused=retrieval.fused,
            cutoff=len(passages),
            generator=self.generator.name,
            generation=gen.trace,
        )
        return Answer(question, gen.text, gen.abstained, gen.reason, citations, timer.ms, trace)
