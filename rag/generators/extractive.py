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
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rag.prompts import blank_injections, injection_spans, overlaps_injection
from rag.text import content_words, split_sentences, stem, words
from rag.types import Generation, Hit

ABSTAIN_TEXT = "The documents don't say."

W_SIM = 0.5
TYPE_PENALTY = 0.6
NUMBER_PENALTY = 0.5
ECHO_PENALTY = 0.5
# Fitted on the SQuAD 2.0 dev "calib" sample (eval.squad, part="calib"), never on the test part.
NEGATION_PENALTY = 0.5
UNKNOWN_NAME_PENALTY = 0.5
MIN_WORDS = 4

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})\b|\b(?:1[5-9]|20)\d\d\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)\b|\d+\s*[年月日]|\b(?:yesterday|today|tomorrow|century|decade)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    "thousand|million|billion|trillion|dozen|dozens|several|percent"
)
# A year is a date, not a count: "how many" is not answered by "in 2018".
_NUMBER = re.compile(
    rf"(?<![\d,])(?!(?:1[5-9]|20)\d\d\b)\d[\d,.]*|\b(?:{_NUMBER_WORDS})\b|[一二三四五六七八九十百千万亿]", re.IGNORECASE
)
_DURATION = re.compile(
    rf"(?:\d+|\b(?:{_NUMBER_WORDS}|a|an)\b)[\s-]*(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[\s-]+[A-Z][a-z]+)+|[\u4e00-\u9fff]{2,4}")
_TITLED = re.compile(
    r"\b(?:Professor|Prof\.|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Comrade|President|Premier|Minister)\s+[A-Z][a-z]+"
)
# Words that make a capitalised phrase an institution or a title, not a person or a named answer.
_INSTITUTION = frozenset(
    """central committee bureau political politburo party communist cpc ccp council ministry state national
    people's republic china chinese the this that these general secretary news agency group study
    session collective""".split()
)
_QNUM = re.compile(r"(?<![\d.,])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?![\d])")  # not \b: "2025年" counts
_LIST_ITEM = re.compile(r"^\s*(?:\(\d+\)|\d+[.)]|[-•*·])\s*")
_NEGATION = frozenset("not no never none nothing nobody neither nor cannot without".split())
_NOT = re.compile(r"n[’']t\b", re.IGNORECASE)  # "didn't" -> "did not"
_CASED_WORD = re.compile(r"[\w][\w'’\-]*")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# Question patterns -> the kind of answer they ask for (first match wins).
_ANSWER_TYPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bhow long\b", re.I), "duration"),
    (
        re.compile(r"\bhow (?:many|much)\b|\b(?:what|which) (?:number|percentage|amount|budget)\b|\bbudget\b", re.I),
        "number",
    ),
    (
        re.compile(
            r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b|\bin what year\b"
            r"|\bon what (?:date|day)\b",
            re.I,
        ),
        "date",
    ),
    (
        re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:person|politburo member|member|official|expert)\b", re.I),
        "name",
    ),
]
_TYPE_CHECKS = {"duration": _DURATION, "number": _NUMBER, "date": _DATE}


def expected_answer_type(question: str) -> str | None:
    """'date', 'number', 'duration', 'name' or None, from the question's wording."""
    for pattern, kind in _ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_answer_type(sentence: str, kind: str | None, question: str = "") -> bool:
    """Whether `sentence` contains an answer of that kind (for names: one the question doesn't already name)."""
    if kind is None:
        return True
    if kind != "name":
        return bool(_TYPE_CHECKS[kind].search(sentence))
    if _TITLED.search(sentence):
        return True
    q_words = set(words(question))
    for m in _NAME.finditer(sentence):
        name_words = {w.lower() for w in re.split(r"[\s-]+", m.group())}
        if name_words - q_words - _INSTITUTION:
            return True
    return False


def required_numbers(text: str) -> set[str]:
    """Numbers a text names ('2018', '19th' -> '19', '6,000' -> '6000'); an answer must contain the question's."""
    return {re.sub(r"(?:st|nd|rd|th)$", "", m.group().rstrip(".,")).replace(",", "") for m in _QNUM.finditer(text)}


def stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def negated(text: str) -> bool:
    """Whether a text says no: 'not', "n't", 'never', 'without', 'nobody'…"""
    return bool(set(words(_NOT.sub(" not", text))) & _NEGATION)


def negation_ok(question: str, sentence: str) -> bool:
    """False when the question is negated and the sentence is not: it answers the opposite question."""
    return not negated(question) or negated(sentence)


def unknown_names(question: str, passages: Sequence[str]) -> list[str]:
    """Capitalised words of the question (after its first word) that no passage contains.

    "How many sports does Yale compete in?" over passages that only name Harvard gives ['Yale'].
    Accents don't count ("Mongke" is "Möngke"). Passages with Chinese or Japanese text may write
    the name in that script, so none is reported then.
    """
    if not passages or any(_CJK.search(p) for p in passages):
        return []
    found = set().union(*(stems(_fold(p)) for p in passages))
    out = []
    for m in list(_CASED_WORD.finditer(question))[1:]:
        w = m.group()
        if not (w[0].isupper() and w[1:2].islower()):
            continue  # lower-case, an acronym or a single letter
        low = content_words(_fold(w))
        if low and not {stem(x) for x in low} <= found:
            out.append(w)
    return out


def _fold(text: str) -> str:
    """The text without accents: 'Alès' -> 'Ales'."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "text": self.text,
            "sim": round(self.sim, 4),
            "coverage": round(self.coverage, 4),
            "type_ok": self.type_ok,
            "numbers_ok": self.numbers_ok,
            "echo": self.echo,
            "negation_ok": self.negation_ok,
            "names_ok": self.names_ok,
            "score": round(self.score, 4),
        }


_CHECKS = (("type", "type_ok"), ("number", "numbers_ok"), ("negation", "negation_ok"), ("name", "names_ok"))


def failed_checks(candidate: Mapping[str, Any]) -> list[str]:
    """Which evidence checks a candidate's trace record failed ("type", "number", "negation", "name")."""
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
    return not text.rstrip().endswith(_TERMINAL) and len(text.split()) < 15


def sentence_units(text: str) -> list[tuple[int, int]]:
    """Sentence spans, with a heading or label line joined to the line it heads.

    "Translator and Editor" + "Ben Murphy, CSET Translation Manager" becomes one unit, so
    the label's words count as evidence for the value under it.
    """
    spans = split_sentences(text)
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(spans):
        s, e = spans[i]
        if _is_label(text[s:e]) and i + 1 < len(spans):
            out.append((s, spans[i + 1][1]))
            i += 2
        else:
            out.append((s, e))
            i += 1
    return out


_TERMINAL = (".", "!", "?", "。", "！", "？", ";", "；", ":", "：", '"', "”", "'", "’", ")")


def _is_candidate(text: str) -> bool:
    """A unit that can answer: enough words, and not a bare heading."""
    n_words = len(text.split()) if text.isascii() or " " in text else len(text) // 2
    if "\n" not in text.strip() and _is_label(text):
        return False
    return n_words >= MIN_WORDS or (text.rstrip().endswith(":") and n_words >= 2)


class ExtractiveGenerator:
    """Picks the passages' best-supported sentences, each followed by [n]; abstains below `threshold`.

    >>> gen = ExtractiveGenerator(load_embeddings("all-MiniLM-L6-v2"), threshold=0.5)
    >>> gen.generate("Who gave the lecture?", hits).text
    'Professor Zheng Nanning from Xi'an Jiaotong University delivered a lecture on the topic ... [1]'
    """

    name = "extractive"

    def __init__(self, embeddings: Any, *, threshold: float, max_sentences: int = 2, sim_weight: float = W_SIM) -> None:
        self.embeddings = embeddings
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.sim_weight = sim_weight

    def candidates(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        """Every candidate sentence of the passages, scored, best first."""
        spans: list[tuple[int, int, int]] = []  # (n, start, end) within passage text
        for n, hit in enumerate(passages, 1):
            spans.extend((n, s, e) for s, e in sentence_units(hit.chunk.text))
        spans = [sp for sp in spans if _is_candidate(passages[sp[0] - 1].chunk.text[sp[1] : sp[2]])]
        spans = [(n, s, e) for n, s, e in spans if not overlaps_injection(passages[n - 1].chunk.text, s, e)]
        if not spans:
            return []
        texts = [passages[n - 1].chunk.text[s:e] for n, s, e in spans]
        vecs = self.embeddings.encode([question, *texts])
        sims = vecs[1:] @ vecs[0]
        weights = idf_weights(stems(question), [stems(t) for t in texts])
        passage_stems = [stems(blank_injections(hit.chunk.text)) for hit in passages]
        names_ok = not unknown_names(question, [hit.chunk.text for hit in passages])
        out = []
        for (n, s, e), text, sim in zip(spans, texts, sims, strict=True):
            score, cov, type_ok, num_ok, echo = score_sentence(
                question, weights, text, passage_stems[n - 1], float(sim), self.sim_weight, names_ok
            )
            neg_ok = negation_ok(question, text)
            out.append(Candidate(n, s, e, text, float(sim), cov, type_ok, num_ok, echo, score, neg_ok, names_ok))
        out.sort(key=lambda c: -c.score)
        return out

    def stream(self, question: str, passages: Sequence[Hit]) -> Iterator[Generation]:
        """One final generation (quoting needs no streaming)."""
        yield self.generate(question, passages)

    def generate(self, question: str, passages: Sequence[Hit]) -> Generation:
        cands = self.candidates(question, passages)
        evidence = cands[0].score if cands else 0.0
        trace: dict[str, Any] = {
            "kind": "extractive",
            "expected_answer_type": expected_answer_type(question),
            "threshold": self.threshold,
            "sim_weight": self.sim_weight,
            "evidence": round(evidence, 4),
            "candidates": [c.to_dict() for c in cands[:15]],
            "instructions_skipped": skipped_instructions(passages),
        }
        if evidence < self.threshold:
            reason = (
                f"best evidence {evidence:.3f} is below the threshold {self.threshold:.3f}"
                if cands
                else "no passage was retrieved"
            )
            trace["decision"] = "abstain"
            return Generation(ABSTAIN_TEXT, True, reason, {}, trace)
        chosen = select(cands, passages, self.threshold, self.max_sentences)
        parts, cited = [], {}
        for group in chosen:
            n = group[0].n
            base = passages[n - 1].chunk.start
            parts.append(" ".join(" ".join(c.text.split()) for c in group) + f" [{n}]")
            cited[n] = cited.get(n, ()) + tuple((base + c.start, base + c.end) for c in group)
        trace["decision"] = "answer"
        trace["chosen"] = [[c.to_dict() for c in g] for g in chosen]
        reason = f"evidence {evidence:.3f} ≥ threshold {self.threshold:.3f}"
        return Generation(" ".join(parts), False, reason, cited, trace)


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
    best = cands[0].score
    chosen: list[list[Candidate]] = []
    seen: list[set[str]] = []
    for c in cands:
        if len(chosen) >= max_sentences or c.score < max(threshold, 0.85 * best):
            break
        if chosen and c.text[:1].islower():
            continue  # a fragment (the source broke the sentence across lines) only as the main answer
        words = stems(c.text)
        if any(len(words & w) / max(1, len(words | w)) > 0.5 for w in seen):
            continue
        group = [c, *_list_items(c, passages[c.n - 1].chunk.text)]
        chosen.append(group)
        seen.append(words)
    return chosen


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
