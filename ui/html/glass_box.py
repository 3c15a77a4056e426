"""'How this answer was made': the glass box, step by step, read only from the answer's trace (mirrors `rag.explain`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.generators.extractive import failed_checks
from ui.html._util import _e, _file_name, _int, _num, _trace


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


def _analysis_html(a: Mapping[str, Any]) -> str:
    """What the system thought was asked: the kind, the answer it expects, the parts."""
    if not a:
        return ""
    rows = [("kind", a.get("kind", "")), ("expects", a.get("answer_type") or "any answer")]
    if a.get("target"):
        rows.append(("about", a["target"]))
    parts = a.get("parts") or []
    items = "".join(f"<li>{_e(p)}</li>" for p in parts) if len(parts) > 1 else ""
    body = _kv(rows) + (f'<ol class="g-parts">{items}</ol>' if items else "")
    return f'<div class="g-row g-analysis"><span class="g-key">what was asked</span>{body}</div>'


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
    changes = (t.get("spelling") or {}).get("changes") or []
    if changes:
        fixed = ", ".join(f"{a} → {b}" for a, b in changes)
        parts.append(f'<div class="g-row g-spelling"><span class="g-key">spelling corrected</span> {_e(fixed)}</div>')
    parts.append(_analysis_html(t.get("analysis") or {}))
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
