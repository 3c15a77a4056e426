"""Pure text helpers: sentence spans, content words and answer normalisation."""

from __future__ import annotations

import re
import string
import unicodedata

# A sentence ends at . ! ? (or their CJK forms), optionally followed by closing quotes or
# brackets, when whitespace or an upper-case letter follows ("direction.Professor" is two
# sentences in the demo corpus). Citation markers right after the stop stay with their sentence
# ("lecture.[1] It was…"). Newlines always end a sentence.
_SENT_END = re.compile(
    r"(?<=[.!?。！？])[\"'”’)\]]*(?:[ \t]*\[\d+(?:\s*[,;]\s*\d+)*\])*(?=\s|[A-Z\u4e00-\u9fff]|$)|\n+"
)
_ABBREV = re.compile(r"(?:\b(?:[A-Z]|Mr|Mrs|Ms|Dr|Prof|St|No|vs|etc|e\.g|i\.e|U\.S|Jr|Sr|Inc|Ltd|Co|Fig))\.$")

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being this that
    these those it its into than then there their they them he she his her we our you your i me my not
    no do does did done have has had having which who whom whose what when where why how will would
    shall should can could may might must about also such so up out over under again further more most
    other some any each few both all own same too very just only one two s t during before after above
    below between through while because until against off here once whether per via upon within without
    tell say said according documents document text""".split()
)

_ITEM_NUMBER = re.compile(r"^\s*\(?\d{1,3}[.)]$")  # "1." opening a list item is not a sentence
_WORD = re.compile(r"[\w][\w'’\-]*", re.UNICODE)


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans `(start, end)` in `text` (shifted by `offset`), whitespace trimmed, empty ones dropped."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        newline = m.group().startswith("\n")
        end = m.start() if newline else m.end()
        if not newline and (_ABBREV.search(text[start:end]) or _ITEM_NUMBER.match(text[start:end])):
            continue
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s + offset, e + offset))
    return out


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, inner apostrophes and hyphens); CJK runs split per character."""
    out: list[str] = []
    for w in _WORD.findall(text.lower()):
        w = w.replace("’", "'").strip("'-")
        if not w:
            continue
        if any("\u4e00" <= ch <= "\u9fff" for ch in w):
            out.extend(ch for ch in w if not ch.isspace())
        else:
            out.append(w.removesuffix("'s"))
    return out


def content_words(text: str) -> list[str]:
    """Words that carry meaning: not stop-words, not one letter."""
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or not w.isascii())]


def stem(word: str) -> str:
    """A light suffix stripper, enough to match 'regulations'~'regulation', 'lectured'~'lecture'."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    return word[:-1] if len(word) > 4 and word.endswith("e") else word


_PUNCT = set(string.punctuation) | set("“”‘’«»—–…、，。！？；：（）《》")


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: NFKC, lower case, no punctuation or articles, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("'", "")
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def is_cjk(text: str) -> bool:
    """Whether most letters of `text` are Chinese/Japanese characters."""
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in letters)
    return bool(letters) and cjk / len(letters) > 0.3
