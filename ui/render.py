"""HTML for the Gradio app, from the answer's JSON object (`Answer.to_dict(include_trace=True)`).

    answer_html(answer)                      the chat message: sentences with [n] chips, flags, abstention box
    source_html(answer, n, context=None, context_start=None)
                                             the source panel for chip [n]: label, range, highlighted passage
    glass_box_html(answer)                   "How this answer was made", step by step, read from the trace
    error_html(e), note_html(text), streaming_html(text), closed_book_html(text, done)
                                             the app's small boxes (markupsafe: arguments are escaped)
    documents_rows(documents)                rows for the index table (DOCUMENT_HEADERS)
    ingest_result_rows(results)              rows for the per-file upload result (INGEST_RESULT_HEADERS)
    CSS                                      the styles (classes start with `g-`)

Pure functions: no Gradio import, nothing recomputed; the glass box mirrors `rag.explain` and only
reads the trace. Every piece of document text, question and model output goes through `html.escape`,
so a document containing `<script>` is shown as text. Newlines inside text become `&#10;`, so the
output never holds a blank line and a Markdown renderer (the chatbot's) treats it as one HTML block.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from rag.generators.extractive import failed_checks

ABSTAIN_TEXT = "The documents don't say."
DOCUMENT_HEADERS = ["Document", "Chunks", "Ingested", "Size", "From"]
INGEST_RESULT_HEADERS = ["File", "Status", "Chunks", "Reason"]

_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


# --- small helpers ---------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Escaped text for element content or an attribute value; newlines kept as character references."""
    text = "" if value is None else str(value)
    return html.escape(text, quote=True).replace("\r\n", "&#10;").replace("\n", "&#10;").replace("\r", "&#10;")


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


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return _e(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _file_name(source: Any) -> str:
    return Path(str(source)).name if source else ""


def _trace(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    t = answer.get("trace")
    return t if isinstance(t, Mapping) else {}


def _fused_hits(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    fused = _trace(answer).get("fused") or {}
    return list(fused.get("hits") or [])


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


# --- 3. the glass box --------------------------------------------------------------------------
def _step(step_id: str, title: str, body: str) -> str:
    return f'<details open class="g-step" id="g-step-{step_id}"><summary>{_e(title)}</summary>{body}</details>'


def _table(headers: Sequence[str], rows: Sequence[str], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f'<table class="{f"g-table {cls}".strip()}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _kv(items: Iterable[tuple[str, Any]]) -> str:
    rows = []
    for key, value in items:
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        rows.append(f"<dt>{_e(key)}</dt><dd><code>{_e(shown)}</code></dd>")
    return f'<dl class="g-kv">{"".join(rows)}</dl>' if rows else ""


def _pre(text: Any, cls: str = "g-pre") -> str:
    return f'<pre class="{cls}">{_e(text)}</pre>'


def _hit_row(h: Mapping[str, Any], seen: Mapping[str, int], cls: str = "") -> str:
    rank = _e(h.get("rank", ""))
    name = _file_name(h.get("source"))
    passage = seen.get(str(h.get("chunk_id")))
    mark = (
        f'<span class="g-seen" title="the model saw this passage as [{passage}]">[{passage}]</span>' if passage else ""
    )
    return (
        f'<tr class="{cls}"><td class="g-rank">{rank}</td><td class="g-score">{_num(h.get("score"))}</td>'
        f'<td class="g-file" title="{_e(h.get("source", ""))}">{_e(name)}</td>'
        f'<td class="g-range">{_e(h.get("start", ""))}–{_e(h.get("end", ""))}</td>'
        f'<td class="g-seen-col">{mark}</td><td class="g-preview">{_e(h.get("preview", ""))}</td></tr>'
    ).replace('<tr class="">', "<tr>")


_HIT_HEADERS = ["rank", "score", "source", "chars", "seen as", "preview"]


def _hits_table(hits: Sequence[Mapping[str, Any]], seen: Mapping[str, int], limit: int) -> str:
    if not hits:
        return '<div class="g-note">(no hits)</div>'
    out = _table(_HIT_HEADERS, [_hit_row(h, seen) for h in hits[:limit]])
    if len(hits) > limit:
        rest = _table(_HIT_HEADERS, [_hit_row(h, seen) for h in hits[limit:]])
        out += f'<details class="g-more"><summary>ranks {limit + 1}–{len(hits)}</summary>{rest}</details>'
    return out


def _slug(name: Any) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(name).lower()).strip("-") or "list"


def _question_step(t: Mapping[str, Any]) -> str:
    rw = t.get("rewrite") or {}
    method = rw.get("method") or "none"
    parts = [
        f'<div class="g-row"><span class="g-key">question</span> <q class="g-question">{_e(t.get("question", ""))}</q></div>'
    ]
    history = rw.get("history") or []
    if history:
        items = "".join(f"<li>{_e(h)}</li>" for h in history)
        parts.append(f'<div class="g-row"><span class="g-key">history</span><ol class="g-history">{items}</ol></div>')
    parts.append(
        f'<div class="g-row"><span class="g-key">rewrite</span> <span class="g-method">{_e(method)}</span></div>'
    )
    parts.append(
        f'<div class="g-row"><span class="g-key">query used for retrieval</span> '
        f'<q class="g-query">{_e(t.get("query", ""))}</q></div>'
    )
    llm = rw.get("llm")
    if rw.get("llm_rejected"):
        out = llm.get("output", "") if isinstance(llm, Mapping) else ""
        parts.append(
            f'<div class="g-note">The LLM\'s rewrite <q>{_e(out)}</q> was rejected: {_e(rw["llm_rejected"])}</div>'
        )
    if isinstance(llm, Mapping) and llm.get("messages"):
        parts.append(
            f'<details class="g-more"><summary>the rewrite prompt</summary>{_messages_html(llm["messages"])}'
            f'<div class="g-msg"><div class="g-role">reply</div>{_pre(llm.get("output", ""))}</div></details>'
        )
    return _step("question", "1 · The question", "".join(parts))


def _retrieval_step(t: Mapping[str, Any], seen: Mapping[str, int], limit: int) -> str:
    lists = t.get("lists") or []
    if not lists:
        return _step("retrieval", "2 · Retrieval", '<div class="g-note">No retriever lists in the trace.</div>')
    blocks = []
    for lst in lists:
        name = lst.get("name", "")
        detail = f'<div class="g-detail">{_e(lst["detail"])}</div>' if lst.get("detail") else ""
        blocks.append(
            f'<section class="g-list" id="g-list-{_slug(name)}" data-list="{_e(name)}"><h4>{_e(name)}</h4>'
            f"{detail}{_hits_table(lst.get('hits') or [], seen, limit)}</section>"
        )
    intro = '<p class="g-note">Each retriever ranks the chunks on its own; the fusion below combines them.</p>'
    return _step(
        "retrieval", "2 · Retrieval: each retriever's list", intro + f'<div class="g-lists">{"".join(blocks)}</div>'
    )


def _fusion_step(answer: Mapping[str, Any], t: Mapping[str, Any], seen: Mapping[str, int], limit: int) -> str:
    fused = t.get("fused") or {}
    hits = list(fused.get("hits") or [])
    cutoff = _int(t.get("cutoff")) or 0
    cited = {_int(c.get("n")) for c in answer.get("citations") or []}
    saw = (
        f"the model saw passages 1–{cutoff}"
        if cutoff > 1
        else ("the model saw passage 1" if cutoff == 1 else "the model saw no passage")
    )
    parts = []
    if fused.get("detail"):
        parts.append(f'<div class="g-detail">{_e(fused.get("name", "fused"))} — {_e(fused["detail"])}</div>')
    parts.append(f'<p class="g-cutoff-note">Cut-off: {_e(saw)} (top {cutoff} of {len(hits)}).</p>')
    shown = max(limit, cutoff + 3)
    cut_row = f'<tr class="g-cutoff-row"><td colspan="{len(_HIT_HEADERS)}">✂ cut-off: {_e(saw)}</td></tr>'
    rows, placed = [], False
    for i, h in enumerate(hits[:shown], 1):
        rank = _int(h.get("rank")) or i
        cls = "g-in" if rank <= cutoff else "g-out"
        if rank in cited:
            cls += " g-cited"
        rows.append(_hit_row(h, seen, cls))
        if rank == cutoff:
            rows.append(cut_row)
            placed = True
    if not placed and cutoff >= min(len(hits), shown):
        rows.append(cut_row)
    if hits:
        parts.append(_table(_HIT_HEADERS, rows, "g-fused"))
        if len(hits) > shown:
            rest = _table(_HIT_HEADERS, [_hit_row(h, seen, "g-out") for h in hits[shown:]])
            parts.append(f'<details class="g-more"><summary>ranks {shown + 1}–{len(hits)}</summary>{rest}</details>')
    else:
        parts.append('<div class="g-note">(no hits)</div>')
    return _step("fusion", "3 · Fusion and cut-off", "".join(parts))


def _messages_html(messages: Iterable[Any]) -> str:
    out = []
    for m in messages or []:
        role = m.get("role", "") if isinstance(m, Mapping) else ""
        content = m.get("content", "") if isinstance(m, Mapping) else m
        out.append(
            f'<div class="g-msg" data-role="{_e(role)}"><div class="g-role">{_e(role)}</div>{_pre(content)}</div>'
        )
    return f'<div class="g-messages">{"".join(out)}</div>'


_LLM_KEYS = {"kind", "model", "endpoint", "messages", "prompt_tokens", "completion_tokens", "finish_reason", "raw"}
_EXTRACTIVE_KEYS = {
    "kind",
    "evidence",
    "threshold",
    "decision",
    "expected_answer_type",
    "candidates",
    "chosen",
    "sim_weight",
}


def _llm_html(g: Mapping[str, Any]) -> str:
    tokens = g.get("prompt_tokens")
    parts = [
        f'<div class="g-row">model <code>{_e(g.get("model", ""))}</code> at <code>{_e(g.get("endpoint", ""))}</code></div>',
        f'<div class="g-row g-tokens">prompt <strong>{_e(tokens if tokens is not None else "?")}</strong> tokens '
        f"(as the endpoint counted) · reply <strong>{_e(g.get('completion_tokens') if g.get('completion_tokens') is not None else '?')}</strong>"
        f" tokens · finish reason <code>{_e(g.get('finish_reason') or '?')}</code></div>",
    ]
    if g.get("refusal"):
        parts.append('<div class="g-note">The model said the passages don\'t answer.</div>')
    parts.append("<h4>The exact messages sent</h4>")
    parts.append(_messages_html(g.get("messages") or []))
    parts.append(
        f'<h4>Raw reply</h4><div class="g-msg g-raw"><div class="g-role">assistant</div>{_pre(g.get("raw", ""))}</div>'
    )
    return "".join(parts)


def _extractive_html(g: Mapping[str, Any]) -> str:
    w = g.get("sim_weight", 0.5)
    try:
        formula = f"score = {float(w):g}·sim + {1 - float(w):g}·coverage, × penalties (answer type, numbers, echo)"
    except (TypeError, ValueError):
        formula = "score = sim and coverage, × penalties"
    decision = g.get("decision", "")
    parts = [
        f'<div class="g-row g-decision">evidence <strong>{_num(g.get("evidence"))}</strong> vs threshold '
        f'<strong>{_num(g.get("threshold"))}</strong> → <span class="g-decision-{_slug(decision)}">{_e(decision)}</span>'
        f" (expected answer type: {_e(g.get('expected_answer_type') or 'any')})</div>",
        f'<div class="g-row g-formula">{_e(formula)}</div>',
    ]
    chosen = {(c.get("n"), c.get("text")) for group in g.get("chosen") or [] for c in group if isinstance(c, Mapping)}
    rows = []
    for c in g.get("candidates") or []:
        flags = failed_checks(c)
        flags = ["missing " + ", ".join(flags)] if flags else []
        flags += ["echo"] if c.get("echo") else []
        picked = (c.get("n"), c.get("text")) in chosen
        rows.append(
            f'<tr class="{"g-chosen" if picked else ""}"><td>{"✓" if picked else ""}</td><td>[{_e(c.get("n", ""))}]</td>'
            f'<td class="g-score">{_num(c.get("score"))}</td><td>{_num(c.get("sim"), 3)}</td>'
            f'<td>{_num(c.get("coverage"), 3)}</td><td class="g-flags">{_e("; ".join(flags))}</td>'
            f'<td class="g-preview">{_e(c.get("text", ""))}</td></tr>'.replace('<tr class="">', "<tr>")
        )
    if rows:
        parts.append("<h4>Candidate sentences</h4>")
        parts.append(
            _table(["chosen", "passage", "score", "sim", "coverage", "flags", "sentence"], rows, "g-candidates")
        )
    else:
        parts.append('<div class="g-note">No candidate sentences.</div>')
    return "".join(parts)


def _generation_html(g: Mapping[str, Any]) -> str:
    kind = g.get("kind")
    if kind == "llm":
        return _llm_html(g) + _kv((k, v) for k, v in g.items() if k not in _LLM_KEYS and k != "refusal")
    if kind == "extractive":
        return _extractive_html(g) + _kv((k, v) for k, v in g.items() if k not in _EXTRACTIVE_KEYS)
    return _kv(g.items()) or '<div class="g-note">The generator left no trace.</div>'


def _generation_step(answer: Mapping[str, Any], t: Mapping[str, Any]) -> str:
    g = t.get("generation") or {}
    generator = t.get("generator") or answer.get("generator", "")
    head = f'<div class="g-row">generator <code>{_e(generator)}</code>'
    if g.get("kind"):
        head += f" ({_e(g['kind'])})"
    head += "</div>"
    return _step("generation", "4 · Generation", head + _generation_html(g))


def _verification_step(answer: Mapping[str, Any], t: Mapping[str, Any]) -> str:
    v = t.get("verification") or {}
    policy = v.get("policy") or answer.get("policy") or ""
    parts = [
        f'<div class="g-row">policy <code>{_e(policy)}</code>: '
        f"{_e(v.get('supported', 0))} of {_e(v.get('total', 0))} sentences supported</div>"
    ]
    rows = []
    for i, sc in enumerate(v.get("sentences") or [], 1):
        status = str(sc.get("status", ""))
        cites = "".join(f"[{_e(n)}]" for n in sc.get("citations") or []) or "[–]"
        was = "".join(f"[{_e(n)}]" for n in sc.get("cited_by_model") or [])
        shown = "shown" if sc.get("shown") else "hidden"
        rows.append(
            f'<tr class="g-status-{_slug(status)} g-{shown}"><td>{i}</td><td>{shown}</td>'
            f'<td class="g-status">{_e(status)}</td><td class="g-score">{_num(sc.get("support"), 2)}</td>'
            f'<td class="g-score">{_num(sc.get("relevance"), 2)}</td><td>{cites}</td><td>{was}</td>'
            f'<td class="g-preview">{_e(sc.get("text", ""))}</td><td class="g-flags">{_e(sc.get("note", ""))}</td></tr>'
        )
    if rows:
        headers = ["#", "shown", "status", "support", "relevance", "citations", "model cited", "sentence", "note"]
        parts.append(_table(headers, rows, "g-checks"))
    else:
        parts.append('<div class="g-note">No sentence to check: the generator abstained.</div>')
    fb = v.get("fallback")
    if isinstance(fb, Mapping):
        outcome = "abstained too" if fb.get("abstained") else "answered"
        parts.append(
            f'<div class="g-note g-fallback-note">{_e(policy or "strict")} policy: nothing supported → '
            f"{_e(fb.get('generator', 'extractive'))} fallback {outcome}.</div>"
        )
        if isinstance(fb.get("trace"), Mapping) and fb["trace"]:
            parts.append(
                f'<details class="g-more"><summary>the fallback\'s own trace</summary>{_generation_html(fb["trace"])}</details>'
            )
    return _step("verification", "5 · Support check, sentence by sentence", "".join(parts))


def _timings_step(answer: Mapping[str, Any]) -> str:
    timings = answer.get("timings_ms") or {}
    rows = [f'<tr><td>{_e(k)}</td><td class="g-score">{_num(v, 0)}</td></tr>' for k, v in timings.items()]
    body = _table(["stage", "ms"], rows, "g-timings") if rows else '<div class="g-note">No timings.</div>'
    return _step("timings", "6 · Timings", body)


def glass_box_html(answer: Mapping[str, Any], limit: int = 10) -> str:
    """'How this answer was made': question and rewrite, each retriever's list, the fused list and
    its cut-off, the prompt or the candidate sentences, the support check and the timings — all read
    from the answer's trace. `limit` rows of each list are shown, the rest folded."""
    t = _trace(answer)
    if not t:
        return (
            '<div class="g-glass"><div class="g-note">This answer carries no trace '
            "(ask with the trace included to see how it was made).</div></div>"
        )
    fused = (t.get("fused") or {}).get("hits") or []
    cutoff = _int(t.get("cutoff")) or 0
    seen = {}  # chunk id -> passage number the model saw it as
    for i, h in enumerate(fused, 1):
        rank = _int(h.get("rank")) or i
        if rank <= cutoff and h.get("chunk_id") is not None:
            seen.setdefault(str(h["chunk_id"]), rank)
    return (
        '<div class="g-glass"><h3 class="g-glass-title">How this answer was made</h3>'
        + _question_step(t)
        + _retrieval_step(t, seen, limit)
        + _fusion_step(answer, t, seen, limit)
        + _generation_step(answer, t)
        + _verification_step(answer, t)
        + _timings_step(answer)
        + "</div>"
    )


# --- 4. tables ---------------------------------------------------------------------------------
def _field(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def _when(value: Any) -> str:
    """An ISO time, epoch seconds or datetime as local 'YYYY-MM-DD HH:MM'; anything else as given."""
    if value is None or value == "":
        return ""
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            dt = datetime.fromtimestamp(value)
        except (OverflowError, OSError, ValueError):
            return str(value)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromtimestamp(float(text))
        except (OverflowError, OSError, ValueError):
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return text
    if dt.tzinfo is not None:
        dt = dt.astimezone()
    return dt.strftime("%Y-%m-%d %H:%M")


def _size(value: Any) -> str:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # unreachable


def _count(value: Any) -> int | str:
    n = _int(value)
    return n if n is not None else ("" if value is None else str(value))


def documents_rows(documents: Iterable[Any] | None) -> list[list[Any]]:
    """Rows [document, chunks, ingested, size, from] (DOCUMENT_HEADERS) from dicts
    {name, where?, chunks, ingested (ISO time or epoch), size?}; missing fields are blank.
    A `path` given without a name shows as its file name: a server path never reaches the table."""
    rows = []
    for d in documents or []:
        name = _field(d, "name") or _file_name(_field(d, "path") or _field(d, "source") or "")
        where = _field(d, "where") or ""
        rows.append(
            [str(name), _count(_field(d, "chunks")), _when(_field(d, "ingested")), _size(_field(d, "size")), str(where)]
        )
    return rows


def ingest_result_rows(results: Iterable[Any] | None) -> list[list[Any]]:
    """Rows [file, status, chunks, reason] (INGEST_RESULT_HEADERS) from dicts {path, status, chunks, reason}."""
    rows = []
    for r in results or []:
        path = _field(r, "path") or _field(r, "name") or ""
        rows.append(
            [
                _file_name(path) or str(path),
                str(_field(r, "status") or ""),
                _count(_field(r, "chunks")),
                str(_field(r, "reason") or ""),
            ]
        )
    return rows


# --- styles ------------------------------------------------------------------------------------
CSS = """
.g-answer { line-height: 1.6; color: var(--body-text-color); }
.g-rewritten { font-size: 0.85em; color: var(--body-text-color-subdued); margin-bottom: 0.4em; }
.g-chip { display: inline-block; min-width: 1.6em; margin: 0 0.1em 0 0.2em; padding: 0 0.35em; border-radius: 0.7em;
  font-size: 0.78em; font-weight: 600; line-height: 1.5; text-align: center; text-decoration: none !important;
  vertical-align: baseline; cursor: pointer; color: var(--body-text-color) !important;
  background: var(--color-accent-soft, rgba(99, 102, 241, 0.15)); border: 1px solid var(--color-accent, #6366f1); }
.g-chip:hover, .g-chip:focus { background: var(--color-accent, #6366f1); color: var(--button-primary-text-color, #fff) !important; }
.g-mark { background: rgba(250, 204, 21, 0.40); color: inherit; border-radius: 2px; padding: 0 1px;
  box-shadow: 0 0 0 1px rgba(202, 138, 4, 0.55); }
.g-unsupported { text-decoration: underline wavy rgba(220, 38, 38, 0.85); text-underline-offset: 3px;
  background: rgba(239, 68, 68, 0.10); border-radius: 2px; }
.g-tag { display: inline-block; margin-left: 0.3em; padding: 0 0.4em; border-radius: 0.5em; font-size: 0.75em;
  font-weight: 600; color: var(--body-text-color); background: rgba(245, 158, 11, 0.22);
  border: 1px solid rgba(217, 119, 6, 0.7); }
.g-abstain { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4));
  border-left: 4px solid var(--color-accent, #6366f1); border-radius: 6px; padding: 0.6em 0.8em;
  background: var(--background-fill-secondary, rgba(128, 128, 128, 0.08)); color: var(--body-text-color); }
.g-abstain-title { font-weight: 700; font-size: 1.05em; }
.g-abstain-reason { color: var(--body-text-color-subdued); font-size: 0.88em; margin-top: 0.2em; }
.g-closest { margin-top: 0.6em; }
.g-closest-title { font-weight: 600; font-size: 0.9em; }
.g-closest-list { margin: 0.2em 0 0 1.2em; padding: 0; }
.g-closest-list li { margin: 0.3em 0; }
.g-preview { color: var(--body-text-color-subdued); font-size: 0.88em; }
.g-src, .g-file { font-weight: 600; font-size: 0.9em; }
.g-range, .g-source-meta, .g-detail { color: var(--body-text-color-subdued); font-size: 0.85em; }
.g-note { color: var(--body-text-color-subdued); font-size: 0.85em; font-style: italic; margin: 0.3em 0; }
.g-source { color: var(--body-text-color); }
.g-source-head { font-weight: 600; margin-bottom: 0.2em; }
.g-source-missing { color: var(--body-text-color-subdued); font-style: italic; }
.g-passage { white-space: pre-wrap; line-height: 1.55; margin-top: 0.5em; padding: 0.5em 0.7em; border-radius: 6px;
  border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4));
  background: var(--background-fill-secondary, rgba(128, 128, 128, 0.06)); max-height: 32em; overflow-y: auto; }
.g-context { color: var(--body-text-color-subdued); }
.g-in-context .g-passage-text { border-left: 3px solid var(--color-accent, #6366f1); padding-left: 0.2em; }
.g-glass { color: var(--body-text-color); font-size: 0.92em; }
.g-glass-title { margin: 0 0 0.4em 0; }
.g-step { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4)); border-radius: 6px;
  padding: 0.3em 0.7em; margin: 0.5em 0; }
.g-step > summary { font-weight: 700; cursor: pointer; padding: 0.2em 0; }
.g-lists { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0.8em; }
.g-list h4, .g-step h4 { margin: 0.5em 0 0.2em 0; }
.g-table { border-collapse: collapse; width: 100%; font-size: 0.88em; margin: 0.3em 0; }
.g-table th, .g-table td { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.35));
  padding: 0.2em 0.4em; text-align: left; vertical-align: top; color: var(--body-text-color); }
.g-table th { background: var(--background-fill-secondary, rgba(128, 128, 128, 0.1)); font-weight: 600; }
.g-table td.g-score, .g-table td.g-rank { font-variant-numeric: tabular-nums; white-space: nowrap; }
.g-table td.g-range { white-space: nowrap; }
.g-fused tr.g-out td { opacity: 0.6; }
.g-fused tr.g-cited td { font-weight: 600; }
.g-cutoff-row td { border-top: 3px dashed var(--color-accent, #6366f1) !important; font-weight: 700; text-align: center;
  color: var(--body-text-color); background: var(--color-accent-soft, rgba(99, 102, 241, 0.12)); }
.g-cutoff-note { font-weight: 600; }
.g-seen { font-weight: 700; color: var(--body-text-color); }
.g-chosen td { background: rgba(34, 197, 94, 0.14); }
.g-checks tr.g-status-unsupported td, .g-checks tr.g-status-off-topic td { background: rgba(239, 68, 68, 0.10); }
.g-checks tr.g-hidden td { opacity: 0.65; }
.g-messages { display: flex; flex-direction: column; gap: 0.4em; }
.g-msg { border: 1px solid var(--border-color-primary, rgba(128, 128, 128, 0.4)); border-radius: 6px; overflow: hidden; }
.g-role { font-size: 0.8em; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; padding: 0.15em 0.6em;
  background: var(--background-fill-secondary, rgba(128, 128, 128, 0.1)); color: var(--body-text-color); }
.g-pre { white-space: pre-wrap; word-break: break-word; margin: 0; padding: 0.5em 0.7em; font-size: 0.85em;
  max-height: 28em; overflow-y: auto; color: var(--body-text-color); background: transparent; }
.g-kv { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 0.8em; font-size: 0.85em; }
.g-kv dd { margin: 0; }
.g-key { color: var(--body-text-color-subdued); font-size: 0.85em; }
.g-history { margin: 0 0 0 1.4em; padding: 0; }
.g-more > summary { cursor: pointer; font-size: 0.85em; color: var(--body-text-color-subdued); }
"""

__all__ = [
    "CSS",
    "DOCUMENT_HEADERS",
    "INGEST_RESULT_HEADERS",
    "answer_html",
    "citation_label",
    "closed_book_html",
    "documents_rows",
    "error_html",
    "glass_box_html",
    "highlight_html",
    "ingest_result_rows",
    "marked_text_html",
    "note_html",
    "source_html",
    "streaming_html",
    "user_html",
]
