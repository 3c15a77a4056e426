"""The question-answering pipeline: embed → dense + BM25 → fuse → cut-off → generate → Answer + Trace."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.analysis import QuestionAnalysis, analyze
from rag.embeddings import SentenceEncoder, load_embeddings, sentence_vectors
from rag.errors import QuestionError
from rag.fusion import reciprocal_rank_fusion
from rag.generators import Generator, extractive_generator, load_generator
from rag.generators.extractive import ABSTAIN_TEXT
from rag.index import Index
from rag.rescoring import SentenceMaxSim
from rag.retrievers import (
    BM25Retriever,
    DenseRetriever,
    MultilingualRetriever,
    Query,
    RetrieverStage,
)
from rag.rewrite import Rewriter, rewrite
from rag.settings import Settings
from rag.spelling import Speller
from rag.text import content_words, is_cjk
from rag.types import Answer, Citation, Generation, Hit, RankedList, SentenceCheck, Trace
from rag.verify import Verifier, apply_policy, render
from rag.verify import summary as verify_summary

if TYPE_CHECKING:
    from rag.langchain_retriever import GroundedRetriever

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Retrieval:
    """Every list one retrieval produced: each stage's, and the fused one."""

    query: Query
    lists: tuple[RankedList, ...]
    fused: RankedList


@dataclass(frozen=True)
class Draft:
    """A question rewritten, retrieved and answered, before the citation check."""

    question: str
    query: str
    rewrite: dict[str, Any]
    retrieval: Retrieval
    passages: tuple[Hit, ...]
    generation: Generation
    timings: dict[str, float]
    analysis: QuestionAnalysis | None = None
    spelling: dict[str, Any] | None = None


MULTILINGUAL_HINT = (
    "this index has no multilingual vectors, so a Chinese question only finds passages that share its words:"
    " add them with `grounded ingest --rebuild --multilingual`"
)


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


def merge_in_turn(lists: Sequence[RankedList]) -> tuple[Hit, ...]:
    """The lists' hits taken in turn (first of each, then second of each…), each chunk once, re-ranked."""
    out: list[Hit] = []
    seen: set[str] = set()
    for depth in range(max((len(lst.hits) for lst in lists), default=0)):
        for lst in lists:
            if depth < len(lst.hits) and lst.hits[depth].chunk.id not in seen:
                hit = lst.hits[depth]
                seen.add(hit.chunk.id)
                out.append(Hit(hit.chunk, len(out) + 1, hit.score))
    return tuple(out)


def check_question(question: str) -> str:
    """The question stripped, or a QuestionError saying what to ask instead."""
    q = " ".join(question.split())
    if not q:
        raise QuestionError('empty question: ask something, e.g. grounded ask "Who gave the lecture?"')
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"question is {len(q)} characters; keep it under {MAX_QUESTION_CHARS}")
    return q


class _LiveIndex:
    """The index a pipeline (and its `with_settings` variants) reads, swapped when another write lands."""

    def __init__(self, index: Index, stages: tuple[RetrieverStage, ...]) -> None:
        self.index, self.stages = index, stages
        self.lock = threading.Lock()
        self.retired: list[Index] = []
        self.speller: Speller | None = None  # built from this generation's vocabulary on first use

    def swap(self, index: Index, stages: tuple[RetrieverStage, ...]) -> None:
        """Point at a newer generation; close the one before last (requests may still be reading the last)."""
        self.retired.append(self.index)
        self.index, self.stages = index, stages
        self.speller = None
        while len(self.retired) > 1:
            self.retired.pop(0).close()


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
        embeddings: SentenceEncoder,
        generator: Generator,
        stages: tuple[RetrieverStage, ...] | None = None,
    ) -> None:
        self.settings = settings
        self.startup_ms: dict[str, float] = {}  # set by from_settings
        self._live = _LiveIndex(index, stages or (DenseRetriever(index), BM25Retriever(index)))
        self.embeddings = embeddings
        self.generator = generator
        self.rescorer = SentenceMaxSim(embeddings, settings.sentence_depth) if settings.sentence_depth else None
        multilingual = next((st.embeddings for st in self.stages if isinstance(st, MultilingualRetriever)), None)
        self.verifier = Verifier(
            embeddings, settings.support_threshold, settings.relevance_threshold, multilingual=multilingual
        )
        self.fallback = generator if generator.name == "extractive" else extractive_generator(settings, embeddings)
        for gen in (generator, self.fallback):  # a Chinese question over English passages is scored across scripts
            if hasattr(gen, "multilingual"):
                gen.multilingual = multilingual

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        """Open the index at `settings.index` and load the models it and the generator need.

        `startup_ms` records where the time went: opening the index (Chroma included), the encoder, the
        multilingual encoder, the keyword index and the generator.
        """
        timer = _Timer()
        with timer("open_index"):
            index = Index.open(settings.index)
            index.check_compatible(settings.embedding_model)
        with timer(f"encoder_{settings.embed_runtime}"):
            embeddings = load_embeddings(
                settings.embedding_model,
                threads=settings.threads,
                batch_size=settings.embed_batch_size,
                precision=settings.embed_precision,
                runtime=settings.embed_runtime,
            )
        index.embeddings = embeddings
        stages: tuple[RetrieverStage, ...] = (DenseRetriever(index), BM25Retriever(index))
        if index.manifest.multilingual_model:
            with timer("encoder_multilingual"):
                multi = load_embeddings(index.manifest.multilingual_model, threads=1)
            stages += (MultilingualRetriever(index, multi),)
        if index.manifest.chunk_count:
            with timer("chroma"):
                index.collection()  # the client and collection: every question needs them
            with timer("keyword_index"):
                index.load_keyword_index()
        with timer("generator"):
            generator = load_generator(settings, embeddings)
        pipeline = cls(settings, index, embeddings, generator, stages)
        pipeline.startup_ms = dict(timer.ms)
        return pipeline

    def with_settings(self, **overrides: object) -> Pipeline:
        """The same index and models with other retrieval/generation settings (e.g. top_k)."""
        settings = self.settings.with_overrides(**overrides)
        keys = ["generator", "abstain_threshold", "max_answer_sentences", "evidence_sim_weight", "summary_words"]
        keys += [k for k in Settings.model_fields if k.startswith(("llm_", "openai_"))]
        same = all(getattr(settings, k) == getattr(self.settings, k) for k in keys)
        generator = self.generator if same else load_generator(settings, self.embeddings)
        variant = Pipeline(settings, self.index, self.embeddings, generator, self.stages)
        variant._live = self._live  # variants follow the same index when another write lands
        return variant

    @property
    def index(self) -> Index:
        return self._live.index

    @property
    def stages(self) -> tuple[RetrieverStage, ...]:
        return self._live.stages

    def refresh(self) -> bool:
        """Reopen the index if another write (this or another process) swapped a new generation in; one stat.

        Called before every retrieval, so a running `serve` answers from an ingest done elsewhere.
        """
        live = self._live
        if not live.index.changed_on_disk():
            return False
        with live.lock:
            if not live.index.changed_on_disk():
                return False
            fresh = self.reopened(live.index.root)
            live.swap(fresh.index, fresh.stages)
        return True

    def reopened(self, root: Path | None = None) -> Pipeline:
        """The same models over the index as it now is on disk (after an ingest), or over another index folder."""
        settings = self.settings if root is None else self.settings.with_overrides(index=root)
        index = Index.open(settings.index)
        index.check_compatible(settings.embedding_model)
        index.embeddings = self.embeddings
        stages = []
        for stage in self.stages:
            fresh = copy.copy(stage)
            fresh.index = index
            stages.append(fresh)
        return Pipeline(settings, index, self.embeddings, self.generator, tuple(stages))

    def as_retriever(
        self, k: int | None = None, *, filter: dict[str, Any] | None = None, search_kwargs: dict[str, Any] | None = None
    ) -> GroundedRetriever:
        """This pipeline's hybrid retrieval as a LangChain retriever (see `GroundedRetriever` for k and filter).

        >>> pipe.as_retriever(k=3, filter={"source": "/docs/a.md"}).invoke("Who gave the lecture?")
        """
        from rag.langchain_retriever import GroundedRetriever

        return GroundedRetriever(pipeline=self, k=k, filter=filter, search_kwargs=search_kwargs or {})

    def retrieve(
        self,
        question: str,
        timer: _Timer | None = None,
        *,
        where: dict[str, Any] | None = None,
        candidates: int | None = None,
    ) -> Retrieval:
        """Run every retriever stage and fuse their lists.

        `where` (a Chroma metadata filter) limits every stage to matching chunks; `candidates` overrides
        the depth of each stage's list.
        """
        timer = timer or _Timer()
        s = self.settings
        depth = candidates or s.candidates
        self.refresh()
        stages = self.stages  # one generation for the whole retrieval, even if another write lands meanwhile
        with timer("embed_query"):
            query = Query(question, sentence_vectors(self.embeddings)([question])[0])
        lists = []
        for stage in stages:
            with timer(stage.name):
                lists.append(stage.retrieve(query, depth, where) if where else stage.retrieve(query, depth))
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

    def speller(self) -> Speller:
        """The typo corrector over the live index's vocabulary (rebuilt when another write lands)."""
        live = self._live
        speller = live.speller
        if speller is None:
            speller = live.speller = Speller(live.index.vocabulary())
        return speller

    def correct(self, query: str) -> tuple[str, dict[str, Any]]:
        """(query with misspelt words corrected against the index's vocabulary, trace record)."""
        if not self.settings.spell_correct:
            return query, {}
        correction = self.speller().correct(query)
        return correction.text, correction.to_dict()

    def retrieve_parts(self, analysis: QuestionAnalysis, retrieval: Retrieval, timer: _Timer) -> Retrieval:
        """For a question in several parts, each part's own retrieval merged in turn with the whole question's.

        "When was the previous session held, and who translated the new readout?" needs a passage for
        each half; the whole question's list alone may hold only the first.
        """
        if len(analysis.parts) < 2:
            return retrieval
        part_lists = [self.retrieve(part, timer).fused for part in analysis.parts]
        named = tuple(
            RankedList(f"part {i}", lst.hits, detail=part)
            for i, (part, lst) in enumerate(zip(analysis.parts, part_lists, strict=True), 1)
        )
        merged = merge_in_turn([*part_lists, retrieval.fused])
        fused = RankedList("fused", merged, detail=f"each of the {len(named)} parts' best passages in turn")
        return Retrieval(retrieval.query, retrieval.lists + named, fused)

    def passages_for(self, analysis: QuestionAnalysis, retrieval: Retrieval) -> list[Hit]:
        """The passages the generator sees: the top k, more for several parts, a document's own for a summary."""
        s = self.settings
        hits = list(retrieval.fused.hits)
        k = s.top_k
        if len(analysis.parts) > 1:
            k = min(len(hits), max(k, 2 * len(analysis.parts)))
        if analysis.kind == "summary" and self.generator.name == "extractive":
            named = self.named_document(analysis, hits)
            if named:
                return named
            k = max(k, s.summary_passages)
        return hits[:k]

    def named_document(self, analysis: QuestionAnalysis, hits: Sequence[Hit]) -> list[Hit]:
        """The chunks, in order, of the retrieved document a summary question names ("the governance article")."""
        if not analysis.target:
            return []
        want = set(content_words(analysis.target)) - {"article", "document", "readout", "report", "text", "file"}
        if not want:
            return []
        best, best_overlap = None, 0
        documents = self.index.manifest.documents
        for source in dict.fromkeys(h.chunk.source for h in hits[:10]):
            record = documents.get(source)
            first = self.index.chunks_of(source)[:1]
            opening = first[0].text.split("\n", 1)[0][:200] if first else ""  # a plain-text file's title line
            about = f"{record.title if record else ''} {Path(source).stem} {opening}".replace("_", " ")
            overlap = len(want & set(content_words(about)))
            if overlap > best_overlap:
                best, best_overlap = source, overlap
        if best is None:
            return []
        scores = {h.chunk.id: h.score for h in hits}
        chunks = self.index.chunks_of(best)[: self.settings.summary_passages * 2]
        return [Hit(c, i, scores.get(c.id, 0.0)) for i, c in enumerate(chunks, 1)]

    def stream_draft(self, question: str, history: Sequence[str] = ()) -> Iterator[Generation | Draft]:
        """Rewrite, correct, analyse, retrieve and generate: partial generations while the model writes, then the `Draft`."""
        question = check_question(question)
        timer = _Timer()
        t0 = time.perf_counter()
        with timer("rewrite"):
            history = history if self.settings.rewrite_follow_ups else ()
            rewriter = self.generator if isinstance(self.generator, Rewriter) else None
            query, rewrite_record = rewrite(question, history, rewriter)
        self.refresh()
        with timer("spelling"):
            query, spelling = self.correct(query)
        analysis = analyze(query)
        retrieval = self.retrieve(query, timer)
        retrieval = self.retrieve_parts(analysis, retrieval, timer)
        passages = self.passages_for(analysis, retrieval)
        gen = None
        t_gen = time.perf_counter()
        for gen in self.generator.stream(query, passages):
            if gen.partial:
                yield gen
        timer.ms["generate"] = (time.perf_counter() - t_gen) * 1000
        assert gen is not None and not gen.partial, "a generator's stream must end with its final generation"
        timer.ms["draft"] = (time.perf_counter() - t0) * 1000
        yield Draft(question, query, rewrite_record, retrieval, tuple(passages), gen, timer.ms, analysis, spelling)

    def draft(self, question: str, history: Sequence[str] = ()) -> Draft:
        """Rewrite, retrieve and generate, without the citation check (see `finish`)."""
        for item in self.stream_draft(question, history):
            if isinstance(item, Draft):
                return item
        raise AssertionError("stream_draft ended without a draft")

    def finish(self, draft: Draft, policy: str | None = None) -> Answer:
        """Check every sentence of the draft against its passages and apply the policy (default: the setting's)."""
        policy = policy or self.settings.verify_policy
        timings = dict(draft.timings)
        t0 = time.perf_counter()
        gen, passages, answered_by = draft.generation, draft.passages, self.generator.name
        parts = draft.analysis.parts if draft.analysis else ()
        checks = [] if gen.abstained else self.verifier.check(draft.query, gen.text, passages, parts)
        kept = apply_policy(checks, policy)
        record = verify_summary(checks, kept, policy)
        if gen.abstained:
            text, abstained, reason = ABSTAIN_TEXT, True, gen.reason
        elif kept:
            text, abstained, reason = render(kept), False, gen.reason
            dropped = sum(c.status != "refusal" for c in checks) - sum(c.status != "refusal" for c in kept)
            if dropped:
                reason += f"; {dropped} unsupported sentence(s) dropped"
        else:
            text, abstained = ABSTAIN_TEXT, True
            reason = "no sentence of the answer is supported by the passages it cites"
            if any(c.status == "refusal" for c in checks):
                reason = "the model said the passages don't answer"
        if not abstained and self.generator.name != "extractive" and self.settings.llm_evidence_gate:
            # A chat model answers almost anything it is shown; it stands only where the extractive scorer
            # also finds evidence above the abstention threshold (its vectors are already cached).
            gate = self.fallback.generate(draft.query, passages)
            record["evidence_gate"] = {"abstained": gate.abstained, "reason": gate.reason}
            if gate.abstained:
                text, abstained, kept = ABSTAIN_TEXT, True, []
                reason = f"the passages hold no evidence for an answer ({gate.reason}); the model's answer is not shown"
        gated = "evidence_gate" in record and record["evidence_gate"]["abstained"]  # the fallback would abstain too
        if abstained and policy == "strict" and self.generator.name != "extractive" and not gen.abstained and not gated:
            fallback = self.fallback.generate(draft.query, passages)
            record["fallback"] = {"generator": "extractive", "abstained": fallback.abstained, "trace": fallback.trace}
            if not fallback.abstained:
                checks = self.verifier.check(draft.query, fallback.text, passages, parts)
                kept = apply_policy(checks, policy)
                record["fallback"]["sentences"] = [c.to_dict() for c in checks]
                if kept:
                    answered_by, text, abstained = "extractive", render(kept), False
                    reason = f"{reason}; answered by the extractive fallback ({fallback.reason})"
                    gen = fallback
        if abstained:
            kept = []
            if is_cjk(draft.query) and not self.index.manifest.multilingual_model:
                reason = f"{reason}; {MULTILINGUAL_HINT}"
        citations = self._citations(kept, gen, passages)
        timings["verify"] = (time.perf_counter() - t0) * 1000
        timings["total"] = timings.pop("draft") + timings["verify"]
        trace = Trace(
            question=draft.question,
            query=draft.query,
            lists=draft.retrieval.lists,
            fused=draft.retrieval.fused,
            cutoff=len(passages),
            generator=self.generator.name,
            generation=draft.generation.trace,
            rewrite=draft.rewrite,
            verification=record,
            analysis=draft.analysis.to_dict() if draft.analysis else {},
            spelling=draft.spelling or {},
        )
        return Answer(
            draft.question, text, abstained, reason, citations, timings, trace, tuple(kept), policy, answered_by
        )

    @staticmethod
    def _citations(kept: Sequence[SentenceCheck], gen: Generation, passages: Sequence[Hit]) -> tuple[Citation, ...]:
        """One citation per passage the shown sentences cite, with the generator's spans or the verifier's."""
        spans: dict[int, list[tuple[int, int]]] = {}
        for c in kept:
            for n in c.citations:
                own = gen.cited.get(n, ())
                found = list(own) if own else ([c.spans[n]] if n in c.spans else [])
                spans.setdefault(n, [])
                spans[n].extend(sp for sp in found if sp not in spans[n])
        return tuple(
            Citation(n, passages[n - 1].chunk, passages[n - 1].score, tuple(sorted(sp)))
            for n, sp in sorted(spans.items())
        )

    def stream(self, question: str, history: Sequence[str] = ()) -> Iterator[Generation | Answer]:
        """Partial generations while the model writes, then the checked `Answer`."""
        for item in self.stream_draft(question, history):
            if isinstance(item, Draft):
                yield self.finish(item)
            else:
                yield item

    def ask(self, question: str, history: Sequence[str] = (), policy: str | None = None) -> Answer:
        """Answer one question with checked citations; abstains when the passages don't support an answer.

        `history` holds the conversation's earlier questions (oldest first) for follow-ups.
        """
        return self.finish(self.draft(question, history), policy)
