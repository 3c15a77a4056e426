"""The chat message HTML: answer sentences with [n] chips, abstention box, source panel, user bubble, small boxes.

    answer_html(answer)                      the chat message: sentences with [n] chips, flags, abstention box
    source_html(answer, n, context=None, context_start=None)
                                             the source panel for chip [n]: label, range, highlighted passage
    error_html(e), note_html(text), streaming_html(text), closed_book_html(text, done)
                                             the app's small boxes (markupsafe: arguments are escaped)
    user_html(text)                          a user's question for the chat bubble, shown as typed

Every piece of document text, question and model output is escaped (`html.escape` / markupsafe).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from markupsafe import Markup, escape

from ui.html._util import _e, _file_name, _fused_hits, _int, _num, _trace

ABSTAIN_TEXT = "The documents don't say."

_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


_MARKDOWN_PUNCTUATION = {c: f"&#{ord(c)};" for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}


def _text(value: Any) -> Markup:
    """Text as markup: escaped by markupsafe, newlines as character references (one HTML block)."""
    escaped = str(escape("" if value is None else str(value)))
    return Markup(escaped.replace("\r\n", "&#10;").replace("\n", "&#10;").replace("\r", "&#10;"))


def error_html(message: Any) -> str:
    """An error box: `⚠ message`, the message shown as text.

    >>> error_html("no <index>")
    '<div class="g-error">⚠ no &lt;index&gt;</div>'
    """
    return str(Markup('<div class="g-error">⚠ {}</div>').format(_text(message)))


def note_html(text: Any) -> str:
    """A grey note line, shown as text."""
    return str(Markup('<div class="g-note">{}</div>').format(_text(text)))


def streaming_html(text: str) -> str:
    """A model's partial answer while it writes, its [n] markers already chips."""
    return str(Markup('<div class="g-streaming">{}</div>').format(Markup(marked_text_html(text))))


def closed_book_html(text: str, done: bool = False) -> str:
    """The LLM's answer without passages (text), and once `done` the note that nothing in it is checked."""
    out = Markup('<div class="g-closed-book">{}</div>').format(_text(text))
    if done:
        out += Markup(
            '<div class="g-note">No passages: nothing here is cited or checked — the model answers from memory.</div>'
        )
    return str(out)


def user_html(text: str) -> str:
    """A user's own question for the chat bubble, shown exactly as typed: not HTML, not Markdown.

    Every ASCII punctuation character becomes a character reference and newlines become `<br>`, so
    the chatbot's Markdown renderer finds no syntax at all (no `[x](javascript:…)` link, no image).

    >>> user_html("[x](javascript:alert(1))")
    '<div class="g-user-text">&#91;x&#93;&#40;javascript&#58;alert&#40;1&#41;&#41;</div>'
    """
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "<br>".join("".join(_MARKDOWN_PUNCTUATION.get(c, c) for c in line) for line in lines)
    return f'<div class="g-user-text">{body}</div>'


def _citation(answer: Mapping[str, Any], n: int) -> Mapping[str, Any] | None:
    return next((c for c in answer.get("citations") or [] if _int(c.get("n")) == n), None)


def _hit(answer: Mapping[str, Any], n: int) -> Mapping[str, Any] | None:
    """The fused list's hit of rank n (passage [n] is the n-th hit the model saw)."""
    hits = _fused_hits(answer)
    found = next((h for h in hits if _int(h.get("rank")) == n), None)
    if found is None and 1 <= n <= len(hits):
        found = hits[n - 1]
    return found


def _range(item: Mapping[str, Any]) -> str:
    return f"chars {item.get('start', '?')}–{item.get('end', '?')}"


def citation_label(citation: Mapping[str, Any]) -> str:
    """How a citation names its passage: file name — title — section — p. N (or pp. N–M), as known.

    >>> citation_label({"source": "/docs/report.pdf", "title": "Report", "page": 3, "page_end": 4})
    'report.pdf — Report — pp. 3–4'
    """
    if citation.get("label"):
        return str(citation["label"])  # Chunk.label, as the CLI prints it
    parts = [_file_name(citation.get("source")) or "unknown document"]
    parts += list(dict.fromkeys(str(citation[k]) for k in ("title", "section") if citation.get(k)))
    page = citation.get("page")
    if page is not None and page != "":
        end = citation.get("page_end", page)
        parts.append(f"p. {page}" if end in (None, "", page) else f"pp. {page}–{end}")
    return " — ".join(parts)


def _label(answer: Mapping[str, Any], n: int) -> str:
    """The chip tooltip for passage [n]: the citation's label, else the fused hit's file and range."""
    c = _citation(answer, n)
    if c is not None:
        return citation_label(c)
    h = _hit(answer, n)
    if h is not None:
        return f"{_file_name(h.get('source')) or 'unknown document'} ({_range(h)})"
    return f"passage [{n}]"


def _chip(n: int, title: str) -> str:
    return f'<a class="g-chip" href="#" data-n="{int(n)}" title="{_e(title)}">[{int(n)}]</a>'


def _chips(answer: Mapping[str, Any], numbers: Iterable[Any]) -> str:
    out = []
    for raw in numbers:
        n = _int(raw)
        if n is not None:
            out.append(_chip(n, _label(answer, n)))
    return "".join(out)


def marked_text_html(text: str, answer: Mapping[str, Any] | None = None) -> str:
    """Escaped text with its [n] / [1, 2] markers turned into chips (for streaming text and old answers)."""
    escaped = _e(text)  # brackets, digits, commas and semicolons survive escaping unchanged
    ans = answer or {}

    def chips(m: re.Match[str]) -> str:
        return _chips(ans, re.findall(r"\d+", m.group(1)))

    return _MARKERS.sub(chips, escaped)


# --- 1. the chat message -----------------------------------------------------------------------
def _sentence_html(answer: Mapping[str, Any], s: Mapping[str, Any]) -> str:
    text = _e(s.get("text", ""))
    chips = _chips(answer, s.get("citations") or [])
    supported = s.get("supported", s.get("status", "supported") == "supported")
    if supported:
        return f'<span class="g-sent">{text}</span>{chips}'
    status = str(s.get("status") or "unsupported")
    note = str(s.get("note") or "")
    title = f"{status}: {note}" if note else status
    tag = f'<span class="g-tag g-tag-{_e(re.sub(r"[^a-z-]", "", status.lower()))}">⚠ {_e(status)}</span>'
    return f'<span class="g-sent g-unsupported" title="{_e(title)}">{text}</span>{chips}{tag}'


def _abstain_html(answer: Mapping[str, Any]) -> str:
    parts = [
        '<div class="g-abstain" role="note">',
        f'<div class="g-abstain-title">{_e(ABSTAIN_TEXT)}</div>',
    ]
    if answer.get("reason"):
        parts.append(f'<div class="g-abstain-reason">{_e(answer["reason"])}</div>')
    fallback = (_trace(answer).get("verification") or {}).get("fallback")
    if isinstance(fallback, Mapping) and fallback.get("abstained"):
        parts.append('<div class="g-abstain-reason">The extractive fallback found no answer either.</div>')
    closest = _fused_hits(answer)[:3]
    if closest:
        parts.append(
            '<div class="g-closest"><div class="g-closest-title">Closest passages:</div><ol class="g-closest-list">'
        )
        for i, h in enumerate(closest, 1):
            rank = _int(h.get("rank")) or i
            name = _file_name(h.get("source")) or "unknown document"
            parts.append(
                f"<li>{_chip(rank, f'{name} ({_range(h)})')} "
                f'<span class="g-src">{_e(name)}</span> <span class="g-range">{_e(_range(h))}</span>'
                f'<div class="g-preview">{_e(h.get("preview", ""))}</div></li>'
            )
        parts.append("</ol></div>")
    parts.append("</div>")
    return "".join(parts)


def answer_html(answer: Mapping[str, Any]) -> str:
    """The chat message body: each sentence with its citation chips, flags on unsupported ones,
    the rewritten question, a first-class abstention box with the closest passages, a fallback note."""
    parts = ['<div class="g-answer">']
    question, query = answer.get("question") or "", answer.get("query") or ""
    if query and query != question:
        parts.append(f'<div class="g-rewritten">Asked as: <q>{_e(query)}</q></div>')
    generator, answered_by = answer.get("generator") or "", answer.get("answered_by") or ""
    if answer.get("abstained"):
        parts.append(_abstain_html(answer))
    else:
        sentences = answer.get("sentences") or []
        if sentences:
            body = " ".join(_sentence_html(answer, s) for s in sentences)
        else:
            body = marked_text_html(str(answer.get("answer") or ""), answer)
        parts.append(f'<div class="g-answer-text">{body}</div>')
    if answered_by and generator and answered_by != generator:
        parts.append(
            f'<div class="g-note g-fallback-note">No sentence of the {_e(generator)} answer was supported by its '
            f"passages; this answer comes from the {_e(answered_by)} fallback.</div>"
        )
    parts.append("</div>")
    return "".join(parts)


# --- 2. the source panel -----------------------------------------------------------------------
def _merged_spans(spans: Iterable[Any], base: int, length: int) -> list[tuple[int, int]]:
    """Absolute spans as sorted, merged offsets into a text that starts at `base`, clamped to it."""
    local = []
    for sp in spans or []:
        try:
            s, e = int(sp[0]), int(sp[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        s, e = max(0, s - base), min(length, e - base)
        if e > s:
            local.append((s, e))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(local):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def highlight_html(text: str, base: int, spans: Iterable[Any]) -> str:
    """Escaped `text` (covering absolute offsets from `base`) with each span in <mark class="g-mark">."""
    out, pos = [], 0
    for s, e in _merged_spans(spans, base, len(text)):
        out.append(_e(text[pos:s]))
        out.append(f'<mark class="g-mark">{_e(text[s:e])}</mark>')
        pos = e
    out.append(_e(text[pos:]))
    return "".join(out)


def source_html(answer: Mapping[str, Any], n: int, context: str | None = None, context_start: int | None = None) -> str:
    """The source panel for citation [n] (or the fused list's n-th hit when the answer cites no [n]).

    `context` is document text around the chunk beginning at absolute offset `context_start` (0 if
    not given); when it covers the chunk, the passage is shown inside it, the surroundings muted.
    """
    num = _int(n)
    item: Mapping[str, Any] | None = None
    cited = False
    if num is not None:
        item = _citation(answer, num)
        cited = item is not None
        if item is None:
            item = _hit(answer, num)
    if num is None or item is None:
        return (
            f'<div class="g-source g-source-missing">No passage [{_e(n)}] in this answer: '
            "click a citation chip to see its source.</div>"
        )
    start, end = _int(item.get("start")), _int(item.get("end"))
    text = item.get("text") if cited else None  # fused hits carry only a preview
    spans = item.get("spans") or [] if cited else []
    if cited:
        label = citation_label(item)
        kind = f"cited as [{num}]"
    else:
        label = _file_name(item.get("source")) or "unknown document"
        kind = f"not cited; passage {num} of the fused list"
    parts = [f'<div class="g-source" data-n="{num}">']
    parts.append(
        f'<div class="g-source-head">{_chip(num, label)} <span class="g-source-label">{_e(label)}</span></div>'
    )
    score = item.get("score")
    meta = [_range(item), kind] + ([f"fused score {_num(score)}"] if score is not None else [])
    parts.append(f'<div class="g-source-meta" title="{_e(item.get("source", ""))}">{_e(" · ".join(meta))}</div>')

    before = after = ""
    if context is not None and start is not None and end is not None:
        c0 = _int(context_start) or 0
        cs, ce = start - c0, end - c0
        if ce > 0 and cs < len(context):
            cs, ce = max(0, cs), min(len(context), ce)
            before, after = context[:cs], context[ce:]
            if text is None:
                text = context[cs:ce]
            if c0 > 0 and before:
                before = "…" + before
    if text is None:
        text = str(item.get("preview") or "")
        parts.append('<div class="g-note">Only a preview of this passage is in the answer\'s trace.</div>')
    body = highlight_html(str(text), start or 0, spans)
    if before or after:
        parts.append(
            f'<div class="g-passage g-in-context"><span class="g-context">{_e(before)}</span>'
            f'<span class="g-passage-text">{body}</span><span class="g-context">{_e(after)}</span></div>'
        )
    else:
        parts.append(f'<div class="g-passage"><span class="g-passage-text">{body}</span></div>')
    parts.append("</div>")
    return "".join(parts)
