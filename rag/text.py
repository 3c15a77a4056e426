"""Pure text helpers: sentence spans, words, the one tokeniser (BM25, scorer, verifier) and answer normalisation.

One pipeline for every consumer: `words` (surface tokens) -> `STOPWORDS` out -> `stem` (Snowball English,
PyStemmer). `tokens()` is what BM25 indexes and queries with; `content_words` + `stem` is what the extractive
scorer and the verifier compare (`content_words` are `tokens` before stemming). Chinese runs are cut into words by
jieba (`cjk_terms`; measured against character bigrams on RGB zh, see README); `words` still splits them per
character, for checks that a sentence's words are in a passage whatever the segmentation.

>>> tokens("The governance of developed AI models, 人工智能")
['govern', 'develop', 'ai', 'model', '人工', '智能', '人工智能']
"""

from __future__ import annotations

import re
import string
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# A sentence ends at . ! ? (or their CJK forms, and the CJK semicolon ；), optionally followed by closing quotes or
# brackets, when whitespace or an upper-case letter follows ("direction.Professor" is two
# sentences in the demo corpus). Citation markers right after the stop stay with their sentence
# ("lecture.[1] It was…"). Newlines always end a sentence.
_SENT_END = re.compile(
    r"(?<=[.!?。！？；])[\"'”’)\]]*(?:[ \t]*\[\d+(?:\s*[,;]\s*\d+)*\])*(?=\s|[A-Z\u4e00-\u9fff]|$)|\n+"
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
    """Lower-cased surface words (letters, digits, inner apostrophes and hyphens); CJK runs split per character.

    For containment checks (is every word of an answer in its passage?), which a Chinese word segmenter could
    get wrong; scoring uses `content_words`.
    """
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


_local = threading.local()


def _stemmer() -> Any:
    """This thread's Snowball stemmer (PyStemmer objects must not be shared between threads)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def stem(word: str) -> str:
    """Snowball English stem of a lower-case word: running~run, governance~govern, developed~development.

    Words with a CJK character are returned unchanged.
    """
    if not word or (not word.isascii() and _CJK.search(word)):
        return word
    return _stemmer().stemWord(word)


# CJK ideographs (incl. extension A and compatibility forms) and Japanese kana.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
# A term source: a run of CJK characters, or a word of another script (letters and digits, no "_" or "-").
_TERM = re.compile(f"(?P<cjk>[{_CJK_CLASS}]+)|(?P<word>[^\\W_{_CJK_CLASS}]+)")
# Chinese function words and question words left out of content words (as STOPWORDS are for English).
CJK_STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 吗 呢 吧 啊 呀 哪 哪些 哪个 哪里 什么 谁 怎么 怎样 如何 为什么 多少 几 有 个 为 所 等
    这 那 这些 那些 也 都 就 而 被 把 对 从 以 之 其 于 着 过 地 得 我 你 他 她 它 我们 你们 他们 请问""".split()
)

TOKENIZER = "snowball-en+stop-v1+jieba-search-v1"
"""Name and version of `tokens()`: stored with every BM25 index, which is rebuilt in memory when it differs."""

_jieba: Any = None
_jieba_lock = threading.Lock()


def _segmenter() -> Any:
    """The shared jieba tokenizer, loaded on the first Chinese text (~0.5 s; its cache file goes to the user cache)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import logging
                import tempfile

                import jieba
                import platformdirs

                jieba.setLogLevel(logging.WARNING)
                seg = jieba.Tokenizer()
                cache = Path(platformdirs.user_cache_dir("grounded", appauthor=False)) / "jieba"
                try:
                    cache.mkdir(parents=True, exist_ok=True)
                except OSError:
                    cache = Path(tempfile.gettempdir())
                seg.tmp_dir = str(cache)
                seg.initialize()
                _jieba = seg
    return _jieba


# Runs already segmented at ingest (the index keeps them beside BM25): answering over an English corpus with
# a few Chinese names never pays jieba's 0.5 s start-up. Only ever filled with jieba's own output.
_KNOWN_RUNS: dict[str, tuple[str, ...]] = {}


def cjk_terms(run: str) -> list[str]:
    """Content terms of a run of CJK characters: jieba's search-mode words (dictionary only), function words out.

    Search mode also yields a long word's parts ("人工智能" -> 人工, 智能, 人工智能). Measured against character
    bigrams on RGB zh (see README): Recall@1 0.71 vs 0.63, Recall@5 equal.
    """
    known = _KNOWN_RUNS.get(run)
    if known is None and _PENDING_RUNS:
        _load_pending_runs()
        known = _KNOWN_RUNS.get(run)
    if known is not None:
        return list(known)
    return [w for w in _segmenter().lcut_for_search(run, HMM=False) if w.strip() and w not in CJK_STOPWORDS]


def cjk_runs(text: str) -> set[str]:
    """The runs of CJK characters `content_words` would segment in `text`."""
    return {m.group("cjk") for m in _TERM.finditer(unicodedata.normalize("NFKC", text).lower()) if m.group("cjk")}


def segment_runs(runs: Iterable[str]) -> dict[str, list[str]]:
    """`cjk_terms` of each run (what an index saves so later processes can skip jieba for them)."""
    return {run: cjk_terms(run) for run in sorted(set(runs))}


def remember_runs(segmented: Mapping[str, Sequence[str]]) -> None:
    """Use these segmentations (made by `segment_runs` with this `TOKENIZER`) instead of running jieba on them."""
    _KNOWN_RUNS.update({run: tuple(terms) for run, terms in segmented.items()})


_PENDING_RUNS: list[Path] = []


def remember_runs_file(path: Path) -> None:
    """Read `path` (a saved `segment_runs`, {"tokenizer", "runs"}) when the first CJK run is met, not before."""
    with _jieba_lock:
        if path not in _PENDING_RUNS:
            _PENDING_RUNS.append(path)


def _load_pending_runs() -> None:
    import json

    with _jieba_lock:
        pending = list(_PENDING_RUNS)
        _PENDING_RUNS.clear()
    for path in pending:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(saved, dict) and saved.get("tokenizer") == TOKENIZER and isinstance(saved.get("runs"), dict):
            remember_runs(saved["runs"])


def content_words(text: str) -> list[str]:
    """Words that carry meaning, in order: lower case (NFKC), no stop-words, no single letter or digit; Chinese via jieba.

    Words split at hyphens and apostrophes ("well-being" -> well, being; "China's" -> china). These are
    `tokens()` before stemming: the scorer and BM25 see the same terms.
    """
    out: list[str] = []
    for m in _TERM.finditer(unicodedata.normalize("NFKC", text).lower()):
        run = m.group("cjk")
        if run:
            out.extend(cjk_terms(run))
            continue
        w = m.group("word")
        if w not in STOPWORDS and (len(w) > 1 or not w.isascii()):
            out.append(w)
    return out


def tokens(text: str) -> list[str]:
    """The BM25 terms of `text`, for indexing and querying alike: `content_words`, each `stem`med.

    >>> tokens("Who is running the sessions? 谁主持学习")
    ['run', 'session', '主持', '学习']
    """
    return [stem(w) for w in content_words(text)]


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
