"""Plain-text rendering of an answer's trace (`grounded ask --explain`); reads the trace, recomputes nothing."""

from __future__ import annotations

from rag.generators.extractive import failed_checks
from rag.types import Answer, RankedList


def _list_lines(lst: RankedList, limit: int, cutoff: int | None = None) -> list[str]:
    lines = [f"{lst.name} — {lst.detail}" if lst.detail else lst.name]
    if not lst.hits:
        lines.append("   (no hits)")
    for hit in lst.hits[:limit]:
        mark = "  " if cutoff is None or hit.rank <= cutoff else "✗ "
        lines.append(
            f" {mark}{hit.rank:>2}. {hit.score:8.4f}  {hit.chunk.name} [{hit.chunk.start}:{hit.chunk.end}]  "
            f"{' '.join(hit.chunk.text.split())[:70]}"
        )
        if cutoff is not None and hit.rank == cutoff and len(lst.hits) > cutoff:
            lines.append(f"     ── cut-off: the generator sees passages 1–{cutoff} ──")
    return lines


def analysis_lines(analysis: dict) -> list[str]:
    """What the question analysis read: its kind, the answer it expects and its parts."""
    if not analysis:
        return []
    line = f"analysis: {analysis.get('kind', '?')} question, expects {analysis.get('answer_type') or 'any answer'}"
    if analysis.get("target"):
        line += f", about {analysis['target']!r}"
    parts = analysis.get("parts") or []
    return [line] + ([f"  part {i}: {p}" for i, p in enumerate(parts, 1)] if len(parts) > 1 else [])


def explain(answer: Answer, limit: int = 10) -> str:
    """How the answer was made: query, each retriever's list, the fused list and cut-off, the evidence."""
    t = answer.trace
    out = [f"question: {t.question}"]
    rw = t.rewrite
    if rw.get("method", "none") != "none":
        out.append(f"history:  {' | '.join(rw.get('history', []))}")
        out.append(f"rewritten ({rw['method']}): {t.query}")
        if rw.get("llm_rejected"):
            out.append(f"  (LLM rewrite {rw['llm'].get('output', '')!r} rejected: {rw['llm_rejected']})")
    else:
        out.append(f"query:    {t.query}")
    changes = t.spelling.get("changes") or []
    if changes:
        out.append("spelling: " + ", ".join(f"{a} → {b}" for a, b in changes))
    out += analysis_lines(t.analysis)
    out.append("")
    for lst in t.lists:
        out += [*_list_lines(lst, limit), ""]
    out += [*_list_lines(t.fused, max(limit, t.cutoff + 1), t.cutoff), ""]
    g = t.generation
    out.append(f"generator: {t.generator}")
    if g.get("kind") == "extractive":
        out.append(
            f"evidence {g['evidence']:.4f} vs threshold {g['threshold']:.4f} → {g['decision']}"
            f"  (expected answer type: {g.get('expected_answer_type') or 'any'})"
        )
        w = g.get("sim_weight", 0.5)
        out.append(f"candidate sentences (score = {w:g}·sim + {1 - w:g}·coverage, × penalties):")
        for c in g.get("candidates", [])[:limit]:
            flags = failed_checks(c)
            flags += ["echo"] if c["echo"] else []
            out.append(
                f"  [{c['n']}] {c['score']:.4f}  sim {c['sim']:.3f} cov {c['coverage']:.3f}"
                f"{'  missing ' + ','.join(flags) if flags else ''}  {c['text'][:80]}"
            )
    elif g.get("kind") == "llm":
        tokens = g.get("prompt_tokens")
        out.append(
            f"model {g['model']} at {g['endpoint']}; prompt {tokens if tokens is not None else '?'} tokens"
            f" (as the endpoint counted), reply {g.get('completion_tokens')} tokens, finish: {g.get('finish_reason')}"
        )
        out.append("prompt (the exact messages sent):")
        for m in g["messages"]:
            out.append(f"  ── {m['role']} ──")
            out.extend(f"  {line}" for line in m["content"].splitlines())
        out.append("raw reply:")
        out.extend(f"  {line}" for line in g["raw"].splitlines())
    shown = {"kind", "evidence", "threshold", "decision", "expected_answer_type", "candidates", "chosen", "sim_weight"}
    shown |= {"model", "endpoint", "messages", "prompt_tokens", "completion_tokens", "finish_reason", "raw"}
    for key, value in g.items():
        if key not in shown:
            out.append(f"{key}: {value}")
    v = t.verification
    if v.get("sentences"):
        out.append("")
        out.append(f"citation check (policy {v['policy']}): {v['supported']} of {v['total']} sentences supported")
        for sc in v["sentences"]:
            cites = "".join(f"[{n}]" for n in sc["citations"]) or "[–]"
            was = "".join(f"[{n}]" for n in sc["cited_by_model"])
            out.append(
                f"  {'shown ' if sc['shown'] else 'hidden'} {sc['status']:<11} support {sc['support']:.2f}"
                f" relevance {sc['relevance']:.2f} {cites}{f' (model: {was})' if was and was != cites else ''}"
                f"  {sc['text'][:80]}"
            )
            if sc["note"]:
                out.append(f"         {sc['note']}")
    if "evidence_gate" in v:
        g = v["evidence_gate"]
        verdict = "no evidence → the model's answer withheld" if g["abstained"] else "evidence found → answer kept"
        out.append(f"evidence gate (extractive scorer): {verdict} ({g['reason']})")
    if "fallback" in v:
        fb = v["fallback"]
        out.append(
            f"strict policy: nothing supported → extractive fallback {'abstained' if fb['abstained'] else 'answered'}"
        )
    out.append("")
    out.append("timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in answer.timings_ms.items()))
    return "\n".join(out)
