"""Plain-text rendering of an answer's trace (`grounded ask --explain`); reads the trace, recomputes nothing."""

from __future__ import annotations

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


def explain(answer: Answer, limit: int = 10) -> str:
    """How the answer was made: query, each retriever's list, the fused list and cut-off, the evidence."""
    t = answer.trace
    out = [f"question: {t.question}", f"query:    {t.query}", ""]
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
        out.append("candidate sentences (score = 0.5·sim + 0.5·coverage, × penalties):")
        for c in g.get("candidates", [])[:limit]:
            flags = [f for f, ok in (("type", c["type_ok"]), ("number", c["numbers_ok"])) if not ok]
            flags += ["echo"] if c["echo"] else []
            out.append(
                f"  [{c['n']}] {c['score']:.4f}  sim {c['sim']:.3f} cov {c['coverage']:.3f}"
                f"{'  missing ' + ','.join(flags) if flags else ''}  {c['text'][:80]}"
            )
    for key, value in g.items():
        if key not in {"kind", "evidence", "threshold", "decision", "expected_answer_type", "candidates", "chosen"}:
            out.append(f"{key}: {value}")
    out.append("")
    out.append("timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in answer.timings_ms.items()))
    return "\n".join(out)
