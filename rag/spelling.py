"""Typo correction of a question's words against the words of the indexed documents.

Only a word that is neither in the index's vocabulary nor an English word (symspellpy's 82,765-word
frequency list, MIT) nor a form of an indexed word ("governs" when the index has "governance") is corrected,
to the closest indexed word or question/function word (`rag.text.STOPWORDS`: "Whta" -> "What" though the
documents never say "what"), Damerau/OSA distance ≤1 up to 7 letters and ≤2 from 8, the most frequent on a
tie. Never changed: words of ≤3 letters, numbers, CJK, acronyms, and capitalised words after the first
(names: "Nanning" stays, and so does "Yale" over a corpus that only names Harvard); a capitalised first
word is only corrected into a word the documents also write in lower case (never into a name), a question
word first on a tie ("Wich" -> "Which", not "With"). One context
rule fixes a number typed as a short word between a determiner and a plural ("the for advantages" →
"the four advantages") when the documents use that number word.

>>> speller = Speller(index.vocabulary())
>>> speller.correct("Whta are the for advantges China has in AI?").text
'What are the four advantages China has in AI?'
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from rag.text import STOPWORDS, stem

# A word: a run of letters (no digits, no "_"); CJK runs are matched too, and then left alone.
_WORD = re.compile(r"[^\W\d_]+")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SENTENCE_START = re.compile(r"(?:^|[.!?。！？:;]\s*|\n\s*)[\"'“‘(\[]*$")
# "the for advantages" -> "the four advantages": a number word typed as a short function word.
_NUMBER_SLIPS = {"for": "four", "to": "two", "too": "two"}
_QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())
_DETERMINERS = frozenset("the these those its their our his her my your".split())
MIN_LENGTH = 4  # shorter words are never corrected (except by the number rule)


@dataclass(frozen=True)
class Correction:
    """A question as corrected, and each (original word, replacement) in order; no changes when nothing was."""

    text: str
    changes: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "changes": [list(c) for c in self.changes]}


@dataclass(frozen=True, eq=False)
class Vocabulary(Mapping[str, int]):
    """Lower-case word -> count over the indexed texts, and which of those words also occur in lower case.

    A word never written in lower case ("nanning", "xinhua") is a name: a capitalised first word of a
    question is never corrected into one.
    """

    counts: Mapping[str, int]
    lowercase: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, word: str) -> int:
        return self.counts[word]

    def __iter__(self) -> Iterator[str]:
        return iter(self.counts)

    def __len__(self) -> int:
        return len(self.counts)

    def save(self, path: Path) -> None:
        """Write the vocabulary as JSON (the keyword index keeps it beside BM25: no chunk read at open)."""
        data = {"counts": dict(self.counts), "lowercase": sorted(self.lowercase)}
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary | None:
        """The vocabulary saved at `path`, or None when it is missing or unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(dict(data["counts"]), frozenset(data["lowercase"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def vocabulary_of(texts: Iterable[str]) -> Vocabulary:
    """The surface-word vocabulary of `texts` (letters only; CJK runs left out)."""
    surface: Counter[str] = Counter()
    for text in texts:
        surface.update(_WORD.findall(text))
    counts: Counter[str] = Counter()
    lowercase: set[str] = set()
    for w, n in surface.items():
        if _CJK.search(w):
            continue
        low = w.lower()
        counts[low] += n
        if w == low:
            lowercase.add(low)
    return Vocabulary(dict(counts), frozenset(lowercase))


@cache
def english_words() -> frozenset[str]:
    """The English word list shipped with symspellpy (82,765 words with frequencies; loaded once, ~0.1 s)."""
    from importlib.resources import files

    text = (files("symspellpy") / "frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


class Speller:
    """Corrects a question's misspelt words into words of the index (see the module docstring for the rules).

    >>> Speller({"what": 9, "advantages": 3}).correct("Whta advantges?").changes
    (('Whta', 'What'), ('advantges', 'advantages'))
    """

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        self.counts: dict[str, int] = {}
        for w, c in vocabulary.items():
            self.counts[w.lower()] = self.counts.get(w.lower(), 0) + int(c)
        lowercase = getattr(vocabulary, "lowercase", None)
        self.lowercase: frozenset[str] | None = frozenset(lowercase) if lowercase is not None else None
        # Question and function words are candidates too, whether or not the documents use them ("Whta" -> "What").
        self.function_words = frozenset(w for w in STOPWORDS if w.isalpha() and len(w) >= 2)
        self.choices = list(dict.fromkeys([w for w in self.counts if len(w) >= 2 and not _CJK.search(w)]))
        self.choices += [w for w in sorted(self.function_words) if w not in self.counts]
        self._stems: frozenset[str] | None = None

    @property
    def stems(self) -> frozenset[str]:
        """Stems of the indexed words: a question's word with one of them is a form of an indexed word."""
        if self._stems is None:
            self._stems = frozenset(stem(w) for w in self.choices)
        return self._stems

    def correct(self, question: str) -> Correction:
        """The question with its misspelt words corrected (case and punctuation kept)."""
        spans = [(m.start(), m.end()) for m in _WORD.finditer(question)]
        out = [question[s:e] for s, e in spans]
        for i, (s, e) in enumerate(spans):
            fixed = self._fix(question, s, e)
            if fixed is not None:
                out[i] = fixed
        for i in range(1, len(spans) - 1):  # "the for advantages" -> "the four advantages"
            number = _NUMBER_SLIPS.get(out[i].lower())
            after = out[i + 1].lower()
            if (
                number
                and number in self.counts
                and out[i - 1].lower() in _DETERMINERS
                and len(after) >= MIN_LENGTH
                and after.endswith("s")
                and question[spans[i - 1][1] : spans[i][0]].isspace()
                and question[spans[i][1] : spans[i + 1][0]].isspace()
            ):
                out[i] = _recase(number, out[i])
        changes = tuple((question[s:e], w) for (s, e), w in zip(spans, out, strict=True) if question[s:e] != w)
        if not changes:
            return Correction(question)
        pieces, last = [], 0
        for (s, e), w in zip(spans, out, strict=True):
            pieces += [question[last:s], w]
            last = e
        pieces.append(question[last:])
        return Correction("".join(pieces), changes)

    def _fix(self, text: str, start: int, end: int) -> str | None:
        """The correction of the word text[start:end], or None to keep it."""
        word = text[start:end]
        low = word.lower()
        if len(word) < MIN_LENGTH or _CJK.search(word) or not word.isalpha():
            return None
        if (start and (text[start - 1].isdigit() or text[start - 1] in "_'’")) or (
            end < len(text) and (text[end].isdigit() or text[end] == "_")
        ):
            return None  # part of a code, a number or a contraction ("covid19", "don't")
        if word[1:] != word[1:].lower():
            return None  # an acronym or a brand ("NATO", "iPhone")
        first = _SENTENCE_START.search(text[:start]) is not None
        if word[0].isupper() and not first:
            return None  # a name
        if low in self.counts or low in english_words() or stem(low) in self.stems:
            return None
        best = self._closest(low, only_lowercase=word[0].isupper(), question_word=first)
        return _recase(best, word) if best else None

    def _closest(self, low: str, *, only_lowercase: bool, question_word: bool = False) -> str | None:
        """The indexed word closest to `low` within its distance budget, the most frequent on a tie.

        A question's first word prefers a question word on a tie ("Wich" -> "Which", not "With").
        """
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        budget = 1 if len(low) <= 7 else 2
        found = process.extract(low, self.choices, scorer=OSA.distance, score_cutoff=budget, limit=None)
        ranked = [
            (dist, not (question_word and w in _QUESTION_WORDS), -self.counts.get(w, 0), w)
            for w, dist, _ in found
            if not only_lowercase or self.lowercase is None or w in self.lowercase or w in self.function_words
        ]
        return min(ranked)[-1] if ranked else None


def _recase(word: str, like: str) -> str:
    """`word` in the case of `like` (Capitalised, UPPER or lower)."""
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word
