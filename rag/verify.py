"""Every answer sentence checked against the passages it cites, whatever model wrote it.

For each sentence of an answer:

    support   = (0.5 * coverage + 0.5 * similarity) * penalties
    relevance = 0.5 * cosine(question, sentence + evidence) + 0.5 * question-word coverage (half in the passage)

`coverage` is the share of the sentence's content words found in the cited passages,
`similarity` the cosine of the sentence to the passages' closest sentence (the *evidence*);
numbers and names the sentence states must appear in the passages, else the support is cut.
`relevance` asks whether the sentence, read with its evidence, addresses the question: a
sentence copied from a passage about something else is supported but off-topic. A sentence
with no marker (or a marker that doesn't support it) gets the marker of the passage that
supports it best, if one does. A sentence of a passage that addresses the model with instructions
("ignore your instructions and …", see `rag.prompts.injection_spans`) is never evidence, though the
rest of its passage still is; an answer sentence that itself gives orders, or names a link its
passages don't, is never supported. The policy then decides what the reader sees:
`flag` keeps everything and marks it, `drop` removes what isn't supported, `strict` also
abstains when nothing is left (the pipeline then falls back to the extractive answer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.analysis import (
    expected_answer_type,
    has_answer_type,
    required_numbers,
    sentence_units,
    stems,
)
from rag.embeddings import rescale_multilingual, sentence_vectors
from rag.prompts import blank_injections, injection_spans, looks_like_injection, overlaps_injection
from rag.settings import POLICIES, Policy
from rag.text import is_cjk, split_sentences, words
from rag.types import Hit, SentenceCheck

NUMBER_PENALTY = 0.5
NAME_PENALTY = 0.6
TYPE_PENALTY = 0.6
URL_PENALTY = 0.3
CAUSE_PENALTY = 0.5
CAUSE_COVERAGE = 0.5  # share of a "because …" clause's content words its passage must hold

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_REFUSAL = re.compile(
    r"\bnot (?:\w+ )?(?:in|mentioned in|found in|covered (?:in|by)|stated in) the (?:documents|passages|context|text)\b"
    r"|\b(?:documents|passages|context|text) (?:don'?t|do not|does not|doesn'?t) (?:say|mention|contain|answer|provide)"
    r"|\b(?:cannot|can't|can not) (?:be )?answer(?:ed)?\b|\bno information (?:about|on)\b|\bI (?:don'?t|do not) know\b",
    re.IGNORECASE,
)
# A clause giving a reason or purpose: its cause must be in the passage too, not only the claim it explains.
_CAUSE = re.compile(
    r"\b(?:because(?: of)?|due to|owing to|as a result of|thanks to|so that|in order to|which is why|that is why)\b"
    r"|因为|由于|为了",
    re.IGNORECASE,
)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")


# --- pure functions --------------------------------------------------------------------------
def parse_answer(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of an answer with the [n] markers each carries; markers are removed from the text.

    >>> parse_answer("Zheng Nanning gave it [1]. It was in April. [2][3]")
    [('Zheng Nanning gave it.', (1,)), ('It was in April.', (2, 3))]
    """
    out: list[tuple[str, list[int]]] = []
    for s, e in split_sentences(text):
        sent = text[s:e]
        lead = _LEADING_MARKERS.match(sent)
        if lead and out:  # "… sentence. [2] Next sentence": the marker belongs to the sentence before
            out[-1][1].extend(_numbers(lead.group()))
            sent = sent[lead.end() :]
        markers = _numbers(" ".join(m.group(1) for m in _MARKERS.finditer(sent)))
        clean = re.sub(r"\s+([.,;:!?])", r"\1", strip_markers(sent))
        if clean.strip(" .,;:!?"):
            out.append((clean, markers))
        elif out:
            out[-1][1].extend(markers)
    return [(t, tuple(dict.fromkeys(m))) for t, m in out]


def strip_markers(text: str) -> str:
    """The text without its [n] (or [n, m]) citation markers, whitespace collapsed."""
    return " ".join(_MARKERS.sub("", text).split())


def _numbers(markers: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", markers)]


def is_refusal(sentence: str) -> bool:
    """Whether a sentence says the passages don't answer ("Not in the documents.")."""
    return bool(_REFUSAL.search(sentence))


def names_in(sentence: str) -> set[str]:
    """Capitalised words inside a sentence (not its first word): names that the passages must contain."""
    return {m.group().lower() for m in _CAPITALISED.finditer(sentence.strip())}


def cause_clause(sentence: str) -> str:
    """The reason or purpose a sentence gives ("… because he believes X" -> "he believes X"), or ''."""
    m = _CAUSE.search(sentence)
    if not m:
        return ""
    rest = sentence[m.end() :]
    return re.split(r"[,;.!?，。；]", rest, maxsplit=1)[0].strip()


def cause_supported(sentence: str, passage: str) -> bool:
    """Whether the cause a sentence gives is in the passage (True when it gives none)."""
    cause = stems(cause_clause(sentence))
    if not cause:
        return True
    return len(cause & stems(passage)) / len(cause) >= CAUSE_COVERAGE


def support_score(sentence: str, passage: str, similarity: float) -> tuple[float, float, list[str]]:
    """(support, coverage, problems) of a sentence against passage text and its closest-sentence cosine."""
    s_stems = stems(sentence)
    p_stems = stems(passage)
    coverage = len(s_stems & p_stems) / len(s_stems) if s_stems else 0.0
    score = 0.5 * coverage + 0.5 * max(0.0, similarity)
    problems = []
    missing_numbers = required_numbers(sentence) - required_numbers(passage)
    if missing_numbers:
        score *= NUMBER_PENALTY
        problems.append("numbers not in the passage: " + ", ".join(sorted(missing_numbers)))
    missing_urls = {u.rstrip(".,;:").lower() for u in _URL.findall(sentence)} - {
        u.rstrip(".,;:").lower() for u in _URL.findall(passage)
    }
    if missing_urls:
        score *= URL_PENALTY
        problems.append("links not in the passage: " + ", ".join(sorted(missing_urls)))
    if not cause_supported(sentence, passage):
        score *= CAUSE_PENALTY
        problems.append(f"the reason it gives is not in the passage: {cause_clause(sentence)!r}")
    passage_words = set(words(passage))
    missing_names = {n for n in names_in(sentence) if n not in passage_words}
    if missing_names:
        score *= NAME_PENALTY
        problems.append("names not in the passage: " + ", ".join(sorted(missing_names)))
    return score, coverage, problems


def relevance_score(question: str, sentence: str, evidence: str, similarity: float, passage: str = "") -> float:
    """How well a sentence, read with its evidence, addresses the question (0..1).

    Question words in the sentence or its evidence count fully, those only elsewhere in the passage half.
    """
    q_stems = stems(question)
    near = stems(sentence) | stems(evidence)
    far = stems(passage) - near
    covered = (len(q_stems & near) + 0.5 * len(q_stems & far)) / len(q_stems) if q_stems else 1.0
    score = 0.5 * max(0.0, similarity) + 0.5 * covered
    if not has_answer_type(f"{sentence} {evidence}", expected_answer_type(question), question):
        score *= TYPE_PENALTY
    return score


def partial_refusal(sentence: str) -> bool:
    """A refusal that names what is missing ("The documents don't say what it cost."), not a bare one."""
    return is_refusal(sentence) and bool(stems(_REFUSAL.sub(" ", sentence)) - _REFUSAL_WORDS)


_REFUSAL_WORDS = stems("documents passages context text say mention contain answer provide know found information")


def apply_policy(checks: Sequence[SentenceCheck], policy: str) -> list[SentenceCheck]:
    """The sentences the reader sees under a policy.

    A refusal is shown only beside content, and only when it names what is missing: one part of a
    question in several parts that the passages don't answer ("The documents don't say what it cost.").
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
    shown = [c for c in checks if c.status != "refusal" and (policy == "flag" or c.supported)]
    if not shown:
        return []
    return [c for c in checks if any(c is k for k in shown) or (c.status == "refusal" and partial_refusal(c.text))]


def render(checks: Sequence[SentenceCheck]) -> str:
    """Answer text from checked sentences, each followed by its markers."""
    return " ".join(f"{c.text} {''.join(f'[{n}]' for n in c.citations)}".rstrip() for c in checks)


# --- the verifier ----------------------------------------------------------------------------
class Verifier:
    """Checks each sentence of an answer against the numbered passages it was written from.

    >>> v = Verifier(load_embeddings("all-MiniLM-L6-v2"))
    >>> [c.status for c in v.check("Who gave the lecture?", "Zheng Nanning gave it [1].", hits)]
    ['supported']
    """

    def __init__(
        self,
        embeddings: Any,
        support_threshold: float = 0.6,
        relevance_threshold: float = 0.3,
        *,
        multilingual: Any | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.multilingual = multilingual  # judges relevance when the question and the sentence differ in script
        self.support_threshold = support_threshold
        self.relevance_threshold = relevance_threshold

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return sentence_vectors(self.embeddings)(texts)

    def _cross_relevance(self, asks: Sequence[tuple[str, np.ndarray]], text: str) -> float:
        """Relevance across scripts (a Chinese question, an English sentence): the multilingual cosine, rescaled.

        Shared words can't count there, so the similarity carries it, as in the extractive scorer.
        """
        model = self.multilingual
        doc = np.asarray(model.encode([text])[0], dtype=np.float32)
        return max(
            rescale_multilingual(float(np.asarray(model.embed_query(q), dtype=np.float32) @ doc)) for q, _ in asks
        )

    def _best(self, sentence_vec: np.ndarray, texts: Sequence[str]) -> tuple[float, int]:
        """Cosine and index of the closest of `texts` (passage sentences)."""
        if not texts:
            return 0.0, -1
        sims = self._encode(texts) @ sentence_vec
        i = int(np.argmax(sims))
        return float(sims[i]), i

    def supports(self, sentence: str, passages: Sequence[str]) -> bool:
        """Whether the passages, read together, support the sentence (the judge for citation metrics)."""
        if not passages:
            return False
        joined = blank_injections("\n".join(passages))
        units = [joined[s:e] for s, e in split_sentences(joined)]
        sim, _ = self._best(self._encode([sentence])[0], units)
        return support_score(sentence, joined, sim)[0] >= self.support_threshold

    def check(
        self, question: str, text: str, passages: Sequence[Hit], parts: Sequence[str] = ()
    ) -> list[SentenceCheck]:
        """Every sentence of `text` with its final citations, support, relevance and status.

        For a question in several `parts` (rag.analysis), a sentence is relevant when it addresses one of them.
        """
        parsed = parse_answer(text)
        if not parsed:
            return []
        # Instruction-like sentences are blanked out (offsets kept): the rest of their passage is still evidence.
        texts = [blank_injections(h.chunk.text) for h in passages]
        units = [  # a label line joined to the line it heads
            [(s, e) for s, e in sentence_units(h.chunk.text) if not overlaps_injection(h.chunk.text, s, e)]
            for h in passages
        ]
        unit_texts = [[h.chunk.text[s:e] for s, e in u] for h, u in zip(passages, units, strict=True)]
        asks = list(dict.fromkeys([question, *parts]))
        vecs = self._encode([*asks, *(t for t, _ in parsed)])
        q_vecs, sent_vecs = list(zip(asks, vecs[: len(asks)], strict=True)), vecs[len(asks) :]
        poisoned = {n for n, h in enumerate(passages, 1) if injection_spans(h.chunk.text)}
        checks = []
        for (sent, markers), vec in zip(parsed, sent_vecs, strict=True):
            if is_refusal(sent):
                checks.append(
                    SentenceCheck(sent, (), 0.0, 0.0, "refusal", markers, note="says the passages don't answer")
                )
                continue
            if looks_like_injection(sent):
                note = "the sentence gives orders, like an injected instruction: never an answer"
                checks.append(SentenceCheck(sent, (), 0.0, 0.0, "unsupported", markers, note=note))
                continue
            per_passage = []  # (support, sim, best unit, problems) for each passage
            for n in range(1, len(passages) + 1):
                sim, i = self._best(vec, unit_texts[n - 1])
                score, _, problems = support_score(sent, texts[n - 1], sim)
                if n in poisoned and score < self.support_threshold:
                    problems = [*problems, f"[{n}] has instruction-like text, which is never evidence"]
                per_passage.append((score, sim, i, problems))
            checks.append(self._check_one(q_vecs, sent, markers, vec, passages, texts, units, per_passage))
        return checks

    def _check_one(
        self,
        asks: Sequence[tuple[str, np.ndarray]],
        sent: str,
        markers: tuple[int, ...],
        vec: np.ndarray,
        passages: Sequence[Hit],
        texts: Sequence[str],
        units: list[list[tuple[int, int]]],
        per_passage: list[tuple[float, float, int, list[str]]],
    ) -> SentenceCheck:
        thr = self.support_threshold
        valid = tuple(n for n in markers if 1 <= n <= len(passages))
        notes = [f"marker [{n}] names no passage" for n in markers if n not in valid]
        support, cited = 0.0, valid
        if valid:
            joined = "\n".join(texts[n - 1] for n in valid)
            best_sim = max(per_passage[n - 1][1] for n in valid)
            support, _, problems = support_score(sent, joined, best_sim)
            problems = problems + [p for n in valid for p in per_passage[n - 1][3] if "instruction-like" in p]
            if support >= thr and len(valid) > 1:  # keep only citations that carry the sentence
                cited = tuple(n for n in valid if per_passage[n - 1][0] >= thr) or valid
            if support < thr and problems:
                notes.extend(problems)
        best_n = max(range(1, len(passages) + 1), key=lambda n: per_passage[n - 1][0], default=0)
        if support < thr and best_n and per_passage[best_n - 1][0] >= thr:
            notes.append(
                f"cited [{']['.join(map(str, valid))}] but [{best_n}] supports it"
                if valid
                else f"[{best_n}] supports it"
            )
            support, cited = per_passage[best_n - 1][0], (best_n,)
        elif support < thr and not valid and best_n:
            support = per_passage[best_n - 1][0]
            notes.extend(per_passage[best_n - 1][3])
        spans = {}
        for n in cited:
            i = per_passage[n - 1][2]
            if i >= 0:
                s, e = units[n - 1][i]
                base = passages[n - 1].chunk.start
                spans[n] = (base + s, base + e)
        evidence_n = cited[0] if cited else best_n
        evidence = ""
        if evidence_n and per_passage[evidence_n - 1][2] >= 0:
            s, e = units[evidence_n - 1][per_passage[evidence_n - 1][2]]
            evidence = passages[evidence_n - 1].chunk.text[s:e]
        ev_vec = self._encode([f"{sent} {evidence}"])[0]
        passage = texts[evidence_n - 1] if evidence_n else ""
        relevance = max(relevance_score(q, sent, evidence, float(ev_vec @ q_vec), passage) for q, q_vec in asks)
        if self.multilingual is not None and is_cjk(asks[0][0]) != is_cjk(sent):
            relevance = max(relevance, self._cross_relevance(asks, f"{sent} {evidence}"))
        if support < thr:
            status = "unsupported"
        elif relevance < self.relevance_threshold:
            status = "off-topic"
            notes.append("supported, but does not address the question")
        else:
            status = "supported"
        final = cited if support >= thr else valid
        return SentenceCheck(
            sent, final, support, relevance, status, markers, spans if support >= thr else {}, "; ".join(notes)
        )


def summary(checks: Sequence[SentenceCheck], kept: Sequence[SentenceCheck], policy: str) -> dict[str, Any]:
    """The verification record the trace keeps."""
    kept_ids = {id(c) for c in kept}
    return {
        "policy": policy,
        "sentences": [{**c.to_dict(), "shown": id(c) in kept_ids} for c in checks],
        "supported": sum(c.supported for c in checks),
        "total": sum(c.status != "refusal" for c in checks),
    }


__all__ = [
    "POLICIES",
    "Policy",
    "Verifier",
    "apply_policy",
    "is_refusal",
    "parse_answer",
    "relevance_score",
    "render",
    "strip_markers",
    "support_score",
]
