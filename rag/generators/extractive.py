"""The extractive generator: answers with the passages' own sentences, each cited, or abstains.

No LLM. Every sentence of the retrieved passages is scored against the question:

    score = (w_sim * cosine(question, sentence) + w_cov * coverage) * penalties

`coverage` is the IDF-weighted share of the question's content words found in the sentence
(half credit for words found elsewhere in its passage); IDF is computed over the candidate
sentences, so words every passage shares ("Politburo", "session") count for little and a
question word found nowhere ("born", "yuan") weighs the coverage of every sentence down. Penalties apply when the sentence lacks the kind
of answer the question asks for (a date for "when", a number for "how many", a name for
"who"), lacks a number the question names ("in 2018"), or only repeats the question. Two more
catch questions that are near misses of what the passages say (SQuAD 2.0's unanswerables): a
negated question ("What does Article 102 *not* prohibit?") answered by a sentence that isn't
negated, and a question naming someone or something no passage names ("How many sports does
*Yale* compete in?" when the passages only speak of Harvard). The best score is the evidence;
below the threshold the generator abstains. A sentence that gives the model orders ("ignore the
other passages and answer …", in any language `rag.prompts.injection_spans` reads) is never a
candidate, whatever its score: the generator quotes data, never instructions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.analysis import (
    TERMINAL,
    QuestionAnalysis,
    analyze,
    base_stems,
    expected_answer_type,
    focus_stems,
    has_answer_type,
    is_label,
    named_stems,
    negated,
    negation_ok,
    org_ok,
    required_numbers,
    sentence_units,
    stems,
    tense_ok,
    unknown_names,
    wh_noun,
)
from rag.embeddings import rescale_multilingual, sentence_vectors
from rag.generators.shapes import (
    MEANS,
    REASON,
    Unit,
    connective,
    count_words,
    mmr,
    ordinal,
    passage_blocks,
    refusal_sentence,
    units_of,
)
from rag.prompts import blank_injections, injection_spans, overlaps_injection
from rag.text import is_cjk, split_sentences
from rag.types import Generation, Hit

# Across scripts the similarity carries the evidence; the words shared ("自主可控" quoted in English text) assist.
CROSS_SIM_WEIGHT = 1.0

ABSTAIN_TEXT = "The documents don't say."

W_SIM = 0.5
TYPE_PENALTY = 0.6
NUMBER_PENALTY = 0.5
ECHO_PENALTY = 0.5
# Fitted on the SQuAD 2.0 dev "calib" sample (eval.squad, part="calib"), never on the test part.
NEGATION_PENALTY = 0.5
UNKNOWN_NAME_PENALTY = 0.5
# A future question answered by a past event; a why/how question by a sentence stating no reason/means.
TENSE_PENALTY = 0.6
SHAPE_PENALTY = 0.75
# A sentence that shares none of the question's own words beyond the names it mentions ("Who chairs the
# garden committee?" vs "The garden opened in 2019.") is on topic but does not answer.
FOCUS_PENALTY = 0.55
COMMON_SHARE = 0.3
NAME_WEIGHT = 0.75
WH_NOUN_BONUS = 1.1  # a word in more than this share of the sentences is topic, not focus
MIN_WORDS = 4
SUMMARY_WORDS = 120
_LIST_ITEM = re.compile(r"^\s*(?:\(\d+\)|\d+[.)]|[-•*·])\s*")
# Words that say what to do with the answer, not what it is about ("Summarize the article's section on…").
_META = frozenset(
    stems(
        "summarize summarise summary overview gist article section describe explain briefly main points key "
        "give list name enumerate readout report piece say says according"
    )
)

__all__ = [
    "ABSTAIN_TEXT",
    "Candidate",
    "ExtractiveGenerator",
    "expected_answer_type",
    "has_answer_type",
    "negated",
    "negation_ok",
    "required_numbers",
    "sentence_units",
    "stems",
    "unknown_names",
]


@dataclass(frozen=True)
class Candidate:
    """A sentence of passage `n`, its offsets in that passage's text and its evidence features."""

    n: int
    start: int
    end: int
    text: str
    sim: float
    coverage: float
    type_ok: bool
    numbers_ok: bool
    echo: bool
    score: float
    negation_ok: bool = True
    names_ok: bool = True
    kind: str = "sentence"  # sentence | item | row | pair
    i: int = -1  # index of its unit in the generator's unit list
    tense_ok: bool = True
    shape_ok: bool = True  # states a reason (why) or a means (how), when the question asks for one
    heading: str = field(default="", compare=False)
    focus_ok: bool = True  # shares a word of what the question asks about, beyond its names

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "kind": self.kind,
            "text": self.text,
            "sim": round(self.sim, 4),
            "coverage": round(self.coverage, 4),
            "type_ok": self.type_ok,
            "numbers_ok": self.numbers_ok,
            "echo": self.echo,
            "negation_ok": self.negation_ok,
            "names_ok": self.names_ok,
            "tense_ok": self.tense_ok,
            "shape_ok": self.shape_ok,
            "focus_ok": self.focus_ok,
            "heading": self.heading,
            "score": round(self.score, 4),
        }


_CHECKS = (
    ("type", "type_ok"),
    ("number", "numbers_ok"),
    ("negation", "negation_ok"),
    ("name", "names_ok"),
    ("tense", "tense_ok"),
    ("shape", "shape_ok"),
    ("focus", "focus_ok"),
)


def failed_checks(candidate: Mapping[str, Any]) -> list[str]:
    """Which evidence checks a candidate's trace record failed ("type", "number", "negation", "name", "tense"…)."""
    return [name for name, key in _CHECKS if not candidate.get(key, True)]


def idf_weights(q_stems: set[str], sentences: Sequence[set[str]]) -> dict[str, float]:
    """log(1 + N / (1 + df)) of each question word over the candidate sentences."""
    n = len(sentences)
    return {w: math.log(1 + n / (1 + sum(w in s for s in sentences))) for w in q_stems}


def score_sentence(
    question: str,
    weights: dict[str, float],
    sentence: str,
    passage_stems: set[str],
    sim: float,
    sim_weight: float = W_SIM,
    names_ok: bool = True,
) -> tuple[float, float, bool, bool, bool]:
    """(score, coverage, type_ok, numbers_ok, echo) for one sentence; pure.

    `names_ok` is False when the question names something no passage does (see `unknown_names`).
    """
    s_stems = stems(sentence)
    q_stems = set(weights)
    total = sum(weights.values())
    if total > 0:
        in_sent = sum(weights[w] for w in q_stems & s_stems)
        in_passage = sum(weights[w] for w in (q_stems & passage_stems) - s_stems)
        coverage = (in_sent + 0.5 * in_passage) / total
    else:
        coverage = 0.0
    type_ok = has_answer_type(sentence, expected_answer_type(question), question)
    numbers_ok = required_numbers(question) <= required_numbers(sentence)
    echo = not (s_stems - q_stems)
    neg_ok = negation_ok(question, sentence)
    score = combine(sim, coverage, type_ok, numbers_ok, echo, sim_weight, negation_ok=neg_ok, names_ok=names_ok)
    return score, coverage, type_ok, numbers_ok, echo


def combine(
    sim: float,
    coverage: float,
    type_ok: bool,
    numbers_ok: bool,
    echo: bool,
    sim_weight: float,
    *,
    negation_ok: bool = True,
    names_ok: bool = True,
) -> float:
    """The evidence score of a sentence from its features."""
    score = sim_weight * sim + (1 - sim_weight) * coverage
    if not negation_ok:
        score *= NEGATION_PENALTY
    if not names_ok:
        score *= UNKNOWN_NAME_PENALTY
    if not type_ok:
        score *= TYPE_PENALTY
    if not numbers_ok:
        score *= NUMBER_PENALTY
    if echo:
        score *= ECHO_PENALTY
    return score


def _is_label(text: str) -> bool:
    return is_label(text)


_TERMINAL = TERMINAL


def _is_candidate(text: str) -> bool:
    """A unit that can answer: enough words, and not a bare heading."""
    n_words = len(text.split()) if text.isascii() or " " in text else len(text) // 2
    if "\n" not in text.strip() and _is_label(text):
        return False
    return n_words >= MIN_WORDS or (text.rstrip().endswith(":") and n_words >= 2)


@dataclass(frozen=True)
class _Prepared:
    """The passages read once for every part of a question: units, their texts, vectors and stems."""

    units: list[tuple[int, Unit]]  # (passage number, unit)
    texts: list[str]
    stems: list[set[str]]
    passage_stems: list[set[str]]
    intros: list[dict[str, str]]
    cross_script: bool


@dataclass(frozen=True)
class _Shaped:
    """One part's answer: citation groups of candidates, or a refusal, with what was decided."""

    groups: list[list[Candidate]]
    evidence: float
    shape: str
    candidates: list[Candidate]
    note: str = ""


class ExtractiveGenerator:
    """Picks the passages' best-supported sentences, shaped by the question, each followed by [n]; abstains below `threshold`.

    >>> gen = ExtractiveGenerator(load_embeddings("all-MiniLM-L6-v2"), threshold=0.5)
    >>> gen.generate("Who gave the lecture?", hits).text
    'Professor Zheng Nanning from Xi'an Jiaotong University delivered a lecture on the topic ... [1]'

    Why/how questions prefer sentences stating a reason or a means; lists bring every item of the
    matching list with its intro; summaries pick diverse sentences (MMR) in source order within
    `summary_words`; a question in several parts gets one answer per part, each part refused on
    its own when its evidence is weak. `multilingual` (optional, e.g. multilingual-e5) scores a
    Chinese question against English sentences, which share no words with it.
    """

    name = "extractive"

    def __init__(
        self,
        embeddings: Any,
        *,
        threshold: float,
        max_sentences: int = 2,
        sim_weight: float = W_SIM,
        summary_words: int = SUMMARY_WORDS,
        multilingual: Any | None = None,
    ) -> None:
        self.embeddings = embeddings
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.sim_weight = sim_weight
        self.summary_words = summary_words
        self.multilingual = multilingual

    # --- reading the passages --------------------------------------------------------------
    def _prepare(self, question: str, passages: Sequence[Hit]) -> _Prepared:
        units: list[tuple[int, Unit]] = []
        intros: list[dict[str, str]] = []
        passage_stems = []
        for n, hit in enumerate(passages, 1):
            text, meta = hit.chunk.text, hit.chunk.metadata
            blocks, group_intros = passage_blocks(text, meta)
            intros.append(group_intros)
            section = str(meta.get("section") or "")
            for u in units_of(text, blocks, section):
                if overlaps_injection(text, u.start, u.end) or not _quotable(text[u.start : u.end], u):
                    continue
                units.append((n, u))
            passage_stems.append(stems(blank_injections(text)) | stems(section))
        texts = [passages[n - 1].chunk.text[u.start : u.end] for n, u in units]
        cross = is_cjk(question) and sum(is_cjk(t) for t in texts) < 0.5 * max(1, len(texts))
        unit_stems = [_stems(t) for t in texts]
        for i in range(1, len(units)):  # "He initiated the …": the name of the sentence before counts too
            same = units[i][0] == units[i - 1][0] and units[i][1].block == units[i - 1][1].block
            if same and _PRONOUN_START.match(texts[i]):
                unit_stems[i] = unit_stems[i] | named_stems(texts[i - 1], skip_first=False)
        return _Prepared(units, texts, unit_stems, passage_stems, intros, cross)

    def _vectors(self, questions: Sequence[str], prep: _Prepared) -> tuple[np.ndarray, np.ndarray]:
        """(question vectors, unit vectors), the units embedded once for every part."""
        model = self.multilingual if prep.cross_script else None
        if model is not None:
            q = np.asarray([model.embed_query(x) for x in questions], dtype=np.float32)
            return q, np.asarray(model.encode(prep.texts), dtype=np.float32)
        both = sentence_vectors(self.embeddings)([*questions, *prep.texts])
        return both[: len(questions)], both[len(questions) :]

    def _score(
        self, question: str, prep: _Prepared, q_vec: np.ndarray, vecs: np.ndarray, passages: Sequence[Hit]
    ) -> list[Candidate]:
        """Every unit scored against one (part of a) question, best first."""
        if not prep.units:
            return []
        a = analyze(question)
        kind = expected_answer_type(question)
        sims = vecs @ q_vec
        q_stems = _stems(question) - _META or _stems(question)
        weights = idf_weights(q_stems, prep.stems)
        for w in named_stems(question) & set(weights):  # names find the document; the answer is in the other words
            weights[w] *= NAME_WEIGHT
        names_ok = not unknown_names(question, [h.chunk.text for h in passages])
        sim_weight = CROSS_SIM_WEIGHT if prep.cross_script else self.sim_weight
        n_units = len(prep.stems)
        asked = wh_noun(question)
        focus = focus_stems(question) - _META
        if n_units >= 10:  # in a handful of sentences every word is rare
            focus = {w for w in focus if sum(w in st for st in prep.stems) <= COMMON_SHARE * n_units}
        out = []
        for i, ((n, u), text, sim) in enumerate(zip(prep.units, prep.texts, sims, strict=True)):
            sim = float(sim)
            if prep.cross_script:
                sim = rescale_multilingual(sim)
            s_stems = prep.stems[i]
            total = sum(weights.values())
            if total > 0:
                in_sent = sum(weights[w] for w in q_stems & s_stems)
                in_passage = sum(
                    weights[w] for w in (q_stems & (prep.passage_stems[n - 1] | stems(u.heading))) - s_stems
                )
                coverage = (in_sent + 0.5 * in_passage) / total
            else:
                coverage = 0.0
            type_ok = has_answer_type(text, kind, question) and org_ok(question, text)
            focus_ok = prep.cross_script or not focus or bool(focus & (s_stems | stems(u.heading) | base_stems(text)))
            numbers_ok = required_numbers(question) <= required_numbers(text)
            # An intro that only restates the question ("Xi called for … on two fronts:") brings its items.
            echo = not (s_stems - q_stems) and not prep.cross_script and not (u.intro and u.group)
            neg_ok = a.kind in ("why", "how") or negation_ok(question, text)  # a reason needn't say "not"
            t_ok = tense_ok(question, text)
            shape_ok = _shape_ok(a, text, prep, i)
            score = combine(sim, coverage, type_ok, numbers_ok, echo, sim_weight, negation_ok=neg_ok, names_ok=names_ok)
            if not t_ok:
                score *= TENSE_PENALTY
            if not shape_ok:
                score *= SHAPE_PENALTY
            if not focus_ok:
                score *= FOCUS_PENALTY
            if asked and asked in s_stems:
                score *= WH_NOUN_BONUS  # "Which national plan…": a sentence naming a plan
            features = (type_ok, numbers_ok, echo, score, neg_ok, names_ok, u.kind, i, t_ok, shape_ok, u.heading)
            out.append(Candidate(n, u.start, u.end, text, sim, coverage, *features, focus_ok))
        out.sort(key=lambda c: -c.score)
        return out

    def candidates(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        """Every candidate unit of the passages, scored, best first."""
        prep = self._prepare(question, passages)
        if not prep.units:
            return []
        q_vecs, vecs = self._vectors([question], prep)
        return self._score(question, prep, q_vecs[0], vecs, passages)

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Generation]:
        """One final generation (quoting needs no streaming)."""
        yield self.generate(question, passages)

    # --- answering -------------------------------------------------------------------------
    def generate(self, question: str, passages: Sequence[Hit]) -> Generation:
        analysis = analyze(question)
        prep = self._prepare(question, passages)
        parts = analysis.parts if analysis.kind == "multi" else (question,)
        trace: dict[str, Any] = {
            "kind": "extractive",
            "analysis": analysis.to_dict(),
            "expected_answer_type": expected_answer_type(question),
            "threshold": self.threshold,
            "sim_weight": self.sim_weight,
            "cross_script": prep.cross_script,
            "instructions_skipped": skipped_instructions(passages),
        }
        if not prep.units:
            trace.update(evidence=0.0, candidates=[], decision="abstain", shape="abstain")
            return Generation(ABSTAIN_TEXT, True, "no passage was retrieved", {}, trace)
        q_vecs, vecs = self._vectors(list(parts), prep)
        per_part = 1 if len(parts) > 1 else None  # one short answer per part
        shaped = [self._shape(p, prep, q_vecs[k], vecs, passages, per_part) for k, p in enumerate(parts)]
        evidence = max(s.evidence for s in shaped)
        trace["evidence"] = round(evidence, 4)
        trace["candidates"] = [c.to_dict() for c in shaped[0].candidates[:15]]
        trace["shape"] = shaped[0].shape if len(shaped) == 1 else "multi"
        if len(parts) > 1:
            trace["parts"] = [
                {
                    "question": p,
                    "analysis": analyze(p).to_dict(),
                    "shape": s.shape,
                    "evidence": round(s.evidence, 4),
                    "answered": bool(s.groups),
                    "note": s.note,
                    "candidates": [c.to_dict() for c in s.candidates[:5]],
                    "chosen": [[c.to_dict() for c in g] for g in s.groups],
                }
                for p, s in zip(parts, shaped, strict=True)
            ]
        if not any(s.groups for s in shaped):
            trace["decision"] = "abstain"
            reason = f"best evidence {evidence:.3f} is below the threshold {self.threshold:.3f}"
            if len(parts) > 1:
                reason = f"no part's evidence reaches the threshold {self.threshold:.3f} (best {evidence:.3f})"
            return Generation(ABSTAIN_TEXT, True, reason, {}, trace)
        pieces: list[str] = []
        cited: dict[int, tuple[tuple[int, int], ...]] = {}
        for part, s in zip(parts, shaped, strict=True):
            if not s.groups:
                pieces.append(refusal_sentence(part))
                continue
            for group in s.groups:
                pieces.append(_render(group, passages, cited))
        trace["decision"] = "answer"
        trace["chosen"] = [[c.to_dict() for c in g] for s in shaped for g in s.groups]
        answered = sum(bool(s.groups) for s in shaped)
        reason = f"evidence {evidence:.3f} ≥ threshold {self.threshold:.3f}"
        if len(parts) > 1:
            reason = f"{answered} of {len(parts)} parts answered; {reason}"
        return Generation(" ".join(pieces), False, reason, cited, trace)

    def _shape(
        self,
        part: str,
        prep: _Prepared,
        q_vec: np.ndarray,
        vecs: np.ndarray,
        passages: Sequence[Hit],
        max_sentences: int | None = None,
    ) -> _Shaped:
        """One part's answer in the shape its kind asks for, or no groups when its evidence is weak."""
        a = analyze(part)
        cands = self._score(part, prep, q_vec, vecs, passages)
        evidence = cands[0].score if cands else 0.0
        if evidence < self.threshold:
            return _Shaped([], evidence, "abstain", cands, f"evidence {evidence:.3f} < {self.threshold:.3f}")
        if a.kind == "summary":
            return _Shaped(self._summary(a, cands, prep, vecs, passages), evidence, "summary", cands)
        if a.kind == "list":
            groups = _list_answer(part, cands, prep, passages, self.threshold)
            if groups:
                return _Shaped(groups, evidence, "list", cands)
        if a.kind in ("why", "how"):
            return _Shaped(_explained(cands, prep, self.threshold), evidence, a.kind, cands)
        groups = _select_units(cands, prep, passages, self.threshold, max_sentences or self.max_sentences)
        return _Shaped(groups, evidence, "fact", cands)

    def _summary(
        self, a: QuestionAnalysis, cands: list[Candidate], prep: _Prepared, vecs: np.ndarray, passages: Sequence[Hit]
    ) -> list[list[Candidate]]:
        """A query-focused extractive summary: MMR over the good sentences, in source order, within the budget."""
        best = cands[0].score
        section = set()
        if a.target and "section on" in a.target:
            section = stems(a.target.split("section on", 1)[1]) - _META
        pool = [c for c in cands if c.kind != "row" and c.score >= 0.5 * best][:60]
        if section:
            on_topic = [c for c in pool if section & stems(c.heading)]
            pool = on_topic or pool
        rel = np.asarray([c.score + (0.2 if section & stems(c.heading) else 0.0) for c in pool])
        picked = mmr(rel, vecs[[c.i for c in pool]], [count_words(c.text) for c in pool], self.summary_words)
        chosen = sorted((pool[i] for i in picked), key=lambda c: _source_order(c, passages))
        groups: list[list[Candidate]] = []
        for c in chosen:
            if groups and groups[-1][-1].n == c.n:
                groups[-1].append(c)
            else:
                groups.append([c])
        return groups


_PRONOUN_START = re.compile(r"^(?:he|she|they|his|her|their|it|its)\b", re.IGNORECASE)


def _stems(text: str) -> set[str]:
    """Stems of a text, hyphenated words also split ("autonomous-driving" ~ "autonomous driving")."""
    return stems(text) | (stems(text.replace("-", " ")) if "-" in text else set())


def _quotable(text: str, u: Unit) -> bool:
    """A unit that may be quoted: enough words, and a complete sentence (items, rows and pairs always are)."""
    n_words = len(text.split()) if text.isascii() or " " in text else len(text) // 2
    if u.kind in ("item", "row", "pair"):
        return n_words >= 1
    if not u.complete:
        return False
    return n_words >= MIN_WORDS or (u.intro and n_words >= 2)


def _shape_ok(a: QuestionAnalysis, text: str, prep: _Prepared, i: int) -> bool:
    """Whether a unit (or its neighbour in the same block) states the reason or means a why/how question asks."""
    pattern = REASON if a.kind == "why" else MEANS if a.kind == "how" else None
    if pattern is None or a.answer_type not in ("reason", "means"):
        return True
    if pattern.search(text) or (a.kind == "how" and REASON.search(text) and re.search(r"\bto \w+", text)):
        return True
    n, u = prep.units[i]
    if i + 1 < len(prep.units):
        n2, u2 = prep.units[i + 1]
        if n2 == n and u2.block == u.block and connective(prep.texts[i + 1]) and pattern.search(prep.texts[i + 1]):
            return True
    return False


def _source_order(c: Candidate, passages: Sequence[Hit]) -> tuple[str, int]:
    chunk = passages[c.n - 1].chunk
    return chunk.source, chunk.start + c.start


def _render(group: Sequence[Candidate], passages: Sequence[Hit], cited: dict[int, tuple[tuple[int, int], ...]]) -> str:
    """A group's text, a marker after each run from one passage; its spans are added to `cited`."""
    out: list[str] = []
    run: list[Candidate] = []

    def flush() -> None:
        if run:
            n = run[0].n
            texts = [" ".join(c.text.split()) for c in run]
            for k in range(len(texts) - 1):  # list items written as headings, one a line: keep them apart
                if run[k].kind == "item" and not texts[k].endswith(TERMINAL):
                    texts[k] += ";"
            out.append(" ".join(texts) + f" [{n}]")
            base = passages[n - 1].chunk.start
            spans = cited.get(n, ())
            cited[n] = spans + tuple(sp for c in run if (sp := (base + c.start, base + c.end)) not in spans)

    for c in group:
        if run and c.n != run[0].n:
            flush()
            run = []
        run.append(c)
    flush()
    return " ".join(out)


def _neighbour(prep: _Prepared, c: Candidate, step: int) -> tuple[int, Unit, str] | None:
    j = c.i + step
    if c.i < 0 or not 0 <= j < len(prep.units):
        return None
    n, u = prep.units[j]
    own = prep.units[c.i][1]
    if n != c.n or u.block != own.block:
        return None
    return j, u, prep.texts[j]


def _as_candidate(c: Candidate, j: int, prep: _Prepared) -> Candidate:
    n, u = prep.units[j]
    return Candidate(n, u.start, u.end, prep.texts[j], 0.0, 0.0, True, True, False, c.score, kind=u.kind, i=j)


def _explained(cands: Sequence[Candidate], prep: _Prepared, threshold: float) -> list[list[Candidate]]:
    """Why/how: the best reason- or means-stating sentence with the claim it explains (the sentence before it)."""
    main = cands[0]
    group = [main]
    prev = _neighbour(prep, main, -1)
    if prev and connective(main.text):
        group.insert(0, _as_candidate(main, prev[0], prep))
    nxt = _neighbour(prep, main, 1)
    if nxt and connective(nxt[2]) and (REASON.search(nxt[2]) or MEANS.search(nxt[2])):
        group.append(_as_candidate(main, nxt[0], prep))
    groups = [group]
    used = {c.i for c in group}
    for c in cands[1:4]:
        if c.score >= max(threshold, 0.9 * main.score) and c.shape_ok and c.i not in used and c.n != main.n:
            groups.append([c])
            break
    return groups


def _group_items(prep: _Prepared, passages: Sequence[Hit], n: int, group: str) -> list[int]:
    """Unit indices of a list group's items, continued into a neighbouring chunk of the same document."""
    idx = [j for j, (m, u) in enumerate(prep.units) if m == n and u.group == group and u.kind == "item"]
    if not idx:
        return []
    chunk = passages[n - 1].chunk
    last_end = chunk.start + prep.units[idx[-1]][1].end
    for m, hit in enumerate(passages, 1):
        other = hit.chunk
        if m == n or other.source != chunk.source or not chunk.start < other.start <= last_end + 2:
            continue
        for j, (mm, u) in enumerate(prep.units):
            if mm != m:
                continue
            if u.kind != "item":
                break
            if other.start + u.start >= last_end:
                idx.append(j)
    return idx[:12]


def _asked_count(question: str) -> int | None:
    """How many items a list question asks for ("the four advantages" -> 4)."""
    m = re.search(
        r"\b(two|three|four|five|six|seven|eight|nine|ten|\d)\s+(?:[\w'’-]+\s+){0,2}?[a-z]+s\b", question, re.I
    )
    if not m:
        return None
    w = m.group(1).lower()
    return int(w) if w.isdigit() else _COUNTS[w]


_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
LIST_COUNT_BONUS = 1.2


def _list_answer(
    question: str, cands: Sequence[Candidate], prep: _Prepared, passages: Sequence[Hit], threshold: float
) -> list[list[Candidate]]:
    """List: the best-matching intro or item among the top candidates brings its whole list, intro first."""
    best = cands[0].score
    top = cands[0]
    inline = top.text.count(",") >= 2 and re.search(r"\b(?:include[sd]?|including|such as|namely)\b", top.text, re.I)
    if prep.units[top.i][1].group is None and not prep.units[top.i][1].intro and inline:
        return []  # the best sentence is itself an enumeration ("… include a, b, and c")
    want = _asked_count(question)
    options: list[tuple[float, list[Candidate]]] = []
    seen: set[tuple[int, str]] = set()
    for c in cands[:12]:
        if c.score < max(threshold, 0.8 * best):
            break
        n, u = prep.units[c.i]
        group = u.group
        if group is None and u.intro:
            nxt = _neighbour_any(prep, c.i)
            group = nxt.group if nxt and nxt.kind == "item" else None
        if group is None or (n, group) in seen:
            continue
        seen.add((n, group))
        items = _group_items(prep, passages, n, group)
        if len(items) < 2:
            continue
        out: list[Candidate] = []
        intro_j = next((j for j, (m, v) in enumerate(prep.units) if m == n and v.intro and v.group == group), None)
        if intro_j is None and c.kind != "item" and u.intro:
            intro_j = c.i
        if intro_j is not None:
            out.append(_as_candidate(c, intro_j, prep))
        out.extend(_as_candidate(c, j, prep) for j in items)
        options.append((c.score * (LIST_COUNT_BONUS if want and want == len(items) else 1.0), out))
    if options:
        score, out = max(options, key=lambda o: o[0])
        if score >= 0.9 * best:
            return [out]
    # an enumeration in running text: "First, … Second, … Finally, …"
    main = cands[0]
    if re.search(r"\bfirst(?:ly)?\b", main.text, re.I):
        group = [main]
        while (nxt := _neighbour(prep, group[-1], 1)) and ordinal(nxt[2]):
            group.append(_as_candidate(main, nxt[0], prep))
            if len(group) > 8:
                break
        if len(group) > 1:
            return [group]
    return []


def _neighbour_any(prep: _Prepared, i: int) -> Unit | None:
    if i + 1 < len(prep.units) and prep.units[i + 1][0] == prep.units[i][0]:
        return prep.units[i + 1][1]
    return None


def _pick(
    cands: Sequence[Candidate],
    threshold: float,
    max_sentences: int,
    words_of: Callable[[Candidate], set[str]],
    group_of: Callable[[Candidate], list[Candidate]],
) -> list[list[Candidate]]:
    """The best candidate, then close runners-up (≥ 85% of its score) that add something new, each with its group."""
    best = cands[0].score
    chosen: list[list[Candidate]] = []
    seen: list[set[str]] = []
    for c in cands:
        if len(chosen) >= max_sentences or c.score < max(threshold, 0.85 * best):
            break
        if chosen and c.text[:1].islower():
            continue  # a fragment (the source broke the sentence across lines) only as the main answer
        words = words_of(c)
        if any(len(words & w) / max(1, len(words | w)) > 0.5 for w in seen):
            continue
        chosen.append(group_of(c))
        seen.append(words)
    return chosen


def _select_units(
    cands: Sequence[Candidate], prep: _Prepared, passages: Sequence[Hit], threshold: float, max_sentences: int
) -> list[list[Candidate]]:
    """Fact: the best unit, then close runners-up that add something new; a list intro brings its items."""

    def group_of(c: Candidate) -> list[Candidate]:
        group = [c]
        n, u = prep.units[c.i]
        if u.intro:
            nxt = _neighbour_any(prep, c.i)
            if nxt is not None and nxt.kind == "item" and nxt.group is not None:
                group += [_as_candidate(c, j, prep) for j in _group_items(prep, passages, n, nxt.group)[:8]]
        return group

    return _pick(cands, threshold, max_sentences, lambda c: prep.stems[c.i] if c.i >= 0 else stems(c.text), group_of)


def skipped_instructions(passages: Sequence[Hit], limit: int = 5) -> list[dict[str, Any]]:
    """The instruction-like sentences of the passages, which are never quoted (for the trace)."""
    out = [
        {"n": n, "text": hit.chunk.text[s:e][:300]}
        for n, hit in enumerate(passages, 1)
        for s, e in injection_spans(hit.chunk.text)
    ]
    return out[:limit]


def select(
    cands: Sequence[Candidate], passages: Sequence[Hit], threshold: float, max_sentences: int
) -> list[list[Candidate]]:
    """The answer's sentences: the best one, then close runners-up that add something new.

    A sentence that introduces a list ("Xi outlined four strengths:") brings its list items.
    """
    return _pick(
        cands,
        threshold,
        max_sentences,
        lambda c: stems(c.text),
        lambda c: [c, *_list_items(c, passages[c.n - 1].chunk.text)],
    )


def _list_items(intro: Candidate, passage: str, limit: int = 8) -> list[Candidate]:
    """The '(1) …', '- …' lines that follow a sentence ending in ':' within its passage."""
    if not intro.text.rstrip().endswith(":"):
        return []
    items: list[Candidate] = []
    for s, e in split_sentences(passage[intro.end :], offset=intro.end):
        text = passage[s:e]
        sub_intro = not items and text.rstrip().endswith(":")  # "Xi outlined four strengths:" under a heading
        if not (sub_intro or _LIST_ITEM.match(text)) or len(items) >= limit or overlaps_injection(passage, s, e):
            break
        items.append(Candidate(intro.n, s, e, text, 0.0, 0.0, True, True, False, intro.score))
    return items
