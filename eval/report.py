"""The run report: report.html (self-contained: plots as data: URIs, inline CSS) and report.md with plots/*.png.

    from eval.report import write_report
    write_report(Path("runs/a"), records, summary, run)   # summary with "intervals" (eval.run.with_intervals)

Plots are matplotlib (Agg backend, imported only here); HTML comes from an autoescaping Jinja2
template (eval/templates/report.html.j2), never from string formatting.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import ndcg_at_k, operating_point, recall_at_k, risk_coverage, wilson_interval

TEMPLATES = Path(__file__).with_name("templates")
BEIR_LISTS = ("dense", "bm25", "multilingual", "pipeline")
STAGE_ORDER = (
    "rewrite",
    "embed_query",
    "dense",
    "bm25",
    "multilingual",
    "retrieve",
    "fuse",
    "rescore",
    "generate",
    "verify",
    "total",
)


@dataclass(frozen=True)
class Plot:
    """One figure: file name under plots/, title, caption and its PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes = field(repr=False)

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class MetricRow:
    """A metric, its value and its 95% interval (None when not computed)."""

    name: str
    value: float | None
    low: float | None
    high: float | None
    rate: bool  # shown as a percentage


# --- data for the report (pure) -------------------------------------------------------------------
def metric_rows(summary: Mapping[str, Any]) -> list[MetricRow]:
    """Every numeric metric of the summary (nested dicts flattened "a.b"), with its interval when known."""
    intervals = summary.get("intervals") or {}
    rows: list[MetricRow] = []

    def walk(prefix: str, obj: Mapping[str, Any]) -> None:
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if key in ("intervals", "settings") or isinstance(value, bool):
                continue
            if isinstance(value, Mapping):
                walk(f"{name}.", value)
            elif isinstance(value, int | float) or (value is None and name in intervals):
                lo, hi = intervals.get(name, (None, None))
                is_rate = name in intervals or (isinstance(value, float) and 0.0 <= value <= 1.0 and "ms" not in name)
                rows.append(MetricRow(name, None if value is None else float(value), lo, hi, bool(is_rate)))

    walk("", summary)
    return rows


def correct_if_answered(record: Mapping[str, Any]) -> bool | None:
    """Whether the record's answer is (or would be) right if given; answered unanswerable questions are wrong."""
    if record.get("correct_if_answered") is not None:
        return bool(record["correct_if_answered"])
    answerable = record.get("answerable", record.get("has_answer"))
    if answerable is False:
        return False
    if record.get("abstained"):
        return None
    if "contains" in record:
        return bool(record["contains"])
    return bool(record.get("correct")) if "correct" in record else None


def risk_coverage_data(
    records: Sequence[Mapping[str, Any]],
) -> tuple[list[tuple[float, float, float]], int]:
    """The risk-coverage points of the records that have a score and a known correctness; and how many do."""
    pairs = [(r["score"], correct_if_answered(r)) for r in records if r.get("score") is not None]
    pairs = [(s, c) for s, c in pairs if c is not None]
    if not pairs:
        return [], 0
    scores, correct = zip(*pairs, strict=True)
    return risk_coverage(scores, correct), len(pairs)


def run_threshold(run: Mapping[str, Any]) -> float | None:
    value = (run.get("settings") or {}).get("abstain_threshold")
    return float(value) if isinstance(value, int | float) else None


def stage_timings(records: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """{stage: [ms per question]} from the records' "timings" (stages in pipeline order)."""
    found: dict[str, list[float]] = {}
    for r in records:
        for stage, ms in (r.get("timings") or {}).items():
            if isinstance(ms, int | float):
                found.setdefault(stage, []).append(float(ms))
    order = [s for s in STAGE_ORDER if s in found] + sorted(set(found) - set(STAGE_ORDER))
    return {s: found[s] for s in order}


def type_breakdown(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per question type: count, correct share with its Wilson interval, abstained share."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("type"):
            groups.setdefault(str(r["type"]), []).append(r)
    out = []
    for kind, rs in sorted(groups.items()):
        right = sum(bool(r.get("correct")) for r in rs)
        lo, hi = wilson_interval(right, len(rs))
        out.append(
            {
                "type": kind,
                "n": len(rs),
                "correct": right / len(rs),
                "low": lo,
                "high": hi,
                "abstained": sum(bool(r.get("abstained")) for r in rs) / len(rs),
            }
        )
    return out


def beir_curves(records: Sequence[Mapping[str, Any]], ks: Sequence[int] = tuple(range(1, 11))) -> dict[str, Any]:
    """{list: {"recall": [mean recall@k], "ndcg": [mean nDCG@k]}} over k, from each query's top 10 and qrels."""
    out: dict[str, Any] = {}
    if not records:
        return out
    names = [n for n in BEIR_LISTS if isinstance(records[0].get(n), Mapping)]
    for name in names:
        rec = [sum(recall_at_k(r[name]["top10"], r["relevant"], k) for r in records) / len(records) for k in ks]
        nd = [sum(ndcg_at_k(r[name]["top10"], r["relevant"], k) for r in records) / len(records) for k in ks]
        out[name] = {"k": list(ks), "recall": rec, "ndcg": nd}
    return out


def question_row(r: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The per-question table's row: question, expected, answer, verdict (and whether it counts as right)."""
    if fmt == "beir":
        rel = [d for d, g in (r.get("relevant") or {}).items() if g > 0]
        top = (r.get("pipeline") or {}).get("top10", [])
        nd = (r.get("pipeline") or {}).get("ndcg@10")
        return {
            "id": r.get("query_id", ""),
            "question": r.get("query", ""),
            "expected": ", ".join(rel),
            "answer": ", ".join(top[:5]),
            "verdict": "n/a" if nd is None else f"nDCG@10 {nd:.2f}",
            "ok": bool(nd and nd > 0),
        }
    answerable = r.get("answerable", r.get("has_answer"))
    gold = r.get("gold") or []
    expected = " | ".join(map(str, gold)) if gold else ("(unanswerable: abstain)" if answerable is False else "")
    if "f1" in r:
        ok = bool(r.get("f1", 0) >= 0.5)
        verdict = f"{'abstained' if r.get('abstained') else 'answered'}, F1 {r['f1']:.2f}"
    else:
        ok = bool(r.get("correct"))
        if answerable is False:
            verdict = "right: abstained" if r.get("abstained") else "wrong: answered an unanswerable question"
        elif r.get("abstained"):
            verdict = "wrong: abstained"
        else:
            verdict = "right" if ok else "wrong answer"
    return {
        "id": r.get("id", ""),
        "question": r.get("question", ""),
        "expected": expected,
        "answer": r.get("answer", ""),
        "verdict": verdict,
        "ok": ok,
        "type": r.get("type", ""),
        "score": r.get("score"),
    }


def trace_view(r: Mapping[str, Any], hits: int = 8, candidates: int = 5) -> dict[str, Any]:
    """The glass-box trace of one record, cut down for reading: lists with scores, generation, sentence checks."""
    trace = r.get("trace") or {}
    gen = dict(trace.get("generation") or {})
    fused = [trace["fused"]] if trace.get("fused") else []
    lists = [
        {
            "name": lst.get("name", ""),
            "detail": lst.get("detail", ""),
            "fused": lst in fused,
            "hits": [
                {**h, "source": Path(str(h.get("source", ""))).name or str(h.get("source", ""))}
                for h in (lst.get("hits") or [])[:hits]
            ],
        }
        for lst in [*(trace.get("lists") or []), *fused]
    ]
    rewrite = trace.get("rewrite") or {}
    shown = {
        "kind",
        "evidence",
        "threshold",
        "decision",
        "candidates",
        "chosen",
        "prompt",
        "raw",
        "instructions_skipped",
    }
    return {
        "query": trace.get("query", ""),
        "rewritten": rewrite.get("method") not in (None, "none") and trace.get("query") != trace.get("question"),
        "lists": lists,
        "cutoff": trace.get("cutoff"),
        "generator": trace.get("generator", r.get("generator", "")),
        "decision": gen.get("decision", ""),
        "evidence": gen.get("evidence"),
        "threshold": gen.get("threshold"),
        "candidates": (gen.get("candidates") or [])[:candidates],
        "prompt": gen.get("prompt") or gen.get("messages") or "",
        "raw": gen.get("raw") or gen.get("text") or "",
        "generation_other": json.dumps(
            {k: v for k, v in gen.items() if k not in shown}, indent=1, ensure_ascii=False, default=str
        ),
        "sentences": r.get("sentences") or [],
        "verification": json.dumps(
            {k: v for k, v in (trace.get("verification") or {}).items() if k != "sentences"},
            indent=1,
            ensure_ascii=False,
            default=str,
        ),
        "timings": r.get("timings") or {},
        "reason": r.get("reason", ""),
        "has_trace": bool(trace),
    }


# --- plots (matplotlib, Agg) --------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def plot_metrics(rows: Sequence[MetricRow]) -> Plot | None:
    """Rates with their 95% intervals as a horizontal dot-and-whisker chart."""
    rates = [m for m in rows if m.rate and m.value is not None and m.low is not None and m.high is not None]
    if not rates:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.42 * len(rates) + 1))
    ys = list(range(len(rates)))[::-1]
    for y, m in zip(ys, rates, strict=True):
        ax.plot([100 * m.low, 100 * m.high], [y, y], color="#4a6fa5", lw=3, solid_capstyle="round")
        ax.plot([100 * m.value], [y], "o", color="#1b2a41", ms=7)
        ax.annotate(
            f"{100 * m.value:.1f}%",
            (100 * m.value, y),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.set_yticks(ys, [m.name for m in rates])
    ax.set_xlim(-2, 108)
    ax.set_xlabel("% (dot: value, bar: 95% interval)")
    ax.grid(axis="x", alpha=0.3)
    return Plot(
        "metrics", "Metrics with 95% intervals", "Wilson intervals for rates, seeded bootstrap for means.", _png(fig)
    )


def plot_risk_coverage(records: Sequence[Mapping[str, Any]], threshold: float | None) -> Plot | None:
    """Accuracy of the answered questions against the share answered, the run's threshold marked."""
    points, n = risk_coverage_data(records)
    if not points:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    cov = [100 * c for _, c, _ in points]
    acc = [100 * a for _, _, a in points]
    ax.step(cov, acc, where="post", color="#4a6fa5", lw=2, label="sweeping the abstention score")
    ax.plot(cov, acc, ".", color="#4a6fa5", ms=4)
    caption = f"{n} questions with a score."
    if threshold is not None:
        pairs = [(r["score"], correct_if_answered(r)) for r in records if r.get("score") is not None]
        pairs = [(s, c) for s, c in pairs if c is not None]
        c_at, a_at = operating_point([s for s, _ in pairs], [bool(c) for _, c in pairs], threshold)
        if a_at is not None:
            ax.plot([100 * c_at], [100 * a_at], "D", color="#c0392b", ms=9, label=f"threshold {threshold:g}")
            ax.annotate(
                f"threshold {threshold:g}: {100 * c_at:.0f}% answered, {100 * a_at:.0f}% right",
                (100 * c_at, 100 * a_at),
                xytext=(8, -14),
                textcoords="offset points",
                fontsize=8,
                color="#c0392b",
            )
            caption += (
                f" At the run's threshold {threshold:g}: {100 * c_at:.1f}% answered, {100 * a_at:.1f}% of those right."
            )
    ax.set_xlabel("coverage: % of questions answered")
    ax.set_ylabel("accuracy of the answered (%)")
    ax.set_xlim(0, 102)
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    caption += " An answered unanswerable question counts as wrong; an abstained one is judged by what it would quote."
    return Plot("risk_coverage", "Risk–coverage", caption, _png(fig))


def plot_latency(records: Sequence[Mapping[str, Any]]) -> Plot | None:
    """Per-stage latency (ms) as box plots."""
    stages = stage_timings(records)
    if not stages:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(stages) + 1.2))
    names = list(stages)[::-1]
    ax.boxplot([[max(v, 0.01) for v in stages[s]] for s in names], vert=False, tick_labels=names, showfliers=True)
    ax.set_xscale("log")  # stages span microseconds (fusion) to seconds (generation)
    ax.set_xlabel("ms per question (log scale)")
    ax.grid(axis="x", alpha=0.3)
    med = ", ".join(f"{s} {sorted(v)[len(v) // 2]:.0f}" for s, v in stages.items())
    return Plot(
        "latency", "Latency per stage", f"Medians (ms): {med}. Stages that took 0 ms are drawn at 0.01.", _png(fig)
    )


def plot_types(breakdown: Sequence[Mapping[str, Any]]) -> Plot | None:
    if not breakdown:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(breakdown) + 1))
    ys = list(range(len(breakdown)))[::-1]
    for y, b in zip(ys, breakdown, strict=True):
        ax.plot([100 * b["low"], 100 * b["high"]], [y, y], color="#4a6fa5", lw=3)
        ax.plot([100 * b["correct"]], [y], "o", color="#1b2a41")
    ax.set_yticks(ys, [f"{b['type']} (n={b['n']})" for b in breakdown])
    ax.set_ylim(-0.6, len(breakdown) - 0.4)
    ax.set_xlim(-2, 102)
    ax.set_xlabel("% right, with 95% Wilson interval")
    ax.grid(axis="x", alpha=0.3)
    return Plot(
        "types", "Per question type", "Right = correct answer, or abstention on an unanswerable question.", _png(fig)
    )


def plot_beir(curves: Mapping[str, Any]) -> Plot | None:
    if not curves:
        return None
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8))
    for name, c in curves.items():
        a1.plot(c["k"], c["recall"], marker="o", ms=3, label=name)
        a2.plot(c["k"], c["ndcg"], marker="o", ms=3, label=name)
    for ax, label in ((a1, "recall@k"), (a2, "nDCG@k")):
        ax.set_xlabel("k")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return Plot("beir_at_k", "Recall@k and nDCG@k", "Per list, averaged over the queries (k ≤ 10).", _png(fig))


def make_plots(records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], run: Mapping[str, Any]) -> list[Plot]:
    """Every plot the run's data allows, in report order."""
    fmt = str(run.get("format", "questions"))
    plots = [plot_metrics(metric_rows(summary))]
    if fmt == "beir":
        plots.append(plot_beir(beir_curves(records)))
    else:
        plots += [plot_types(type_breakdown(records)), plot_risk_coverage(records, run_threshold(run))]
    plots.append(plot_latency(records))
    return [p for p in plots if p is not None]


# --- writing -------------------------------------------------------------------------------------------
def _context(
    records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], run: Mapping[str, Any], plots: Sequence[Plot]
) -> dict[str, Any]:
    fmt = str(run.get("format", "questions"))
    rows = [question_row(r, fmt) | {"trace": trace_view(r)} for r in records]
    settings = run.get("settings") or {}
    return {
        "title": f"grounded eval: {Path(str((run.get('dataset') or {}).get('path', ''))).name or fmt}",
        "fmt": fmt,
        "run": run,
        "metrics": metric_rows(summary),
        "judge_label": summary.get("judge_label", ""),
        "types": type_breakdown(records),
        "plots": plots,
        "rows": rows,
        "right": sum(r["ok"] for r in rows),
        "settings_json": json.dumps(settings, indent=1, ensure_ascii=False),
        "index": run.get("index") or {},
        "packages": run.get("packages") or {},
    }


def _num(value: Any, digits: int | None = None) -> str:
    """A number for the report: given digits, else whole numbers as such and 3 significant digits below 100."""
    if value is None:
        return "n/a"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if digits is not None:
        return f"{value:.{digits}f}"
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def render_html(
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    run: Mapping[str, Any],
    plots: Sequence[Plot] | None = None,
) -> str:
    """report.html's text: one file, plots embedded as data: URIs, inline CSS, no script, everything escaped."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = _num
    plots = list(plots) if plots is not None else make_plots(records, summary, run)
    return env.get_template("report.html.j2").render(**_context(records, summary, run, plots))


def _md_num(value: float | None, rate: bool) -> str:
    return "n/a" if value is None else (f"{100 * value:.1f}%" if rate else f"{value:.4g}")


def _md_cell(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def pct(value: float | None) -> str:
    """A rate as a percentage with one decimal, "n/a" for None (the benchmark tables' cells)."""
    return "n/a" if value is None else f"{100 * value:.1f}"


def text_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows (header first) as aligned text lines: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]


def markdown_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows (header first) as the lines of a Markdown table."""
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + [
        "| " + " | ".join(r) + " |" for r in rows[1:]
    ]


def render_markdown(
    records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], run: Mapping[str, Any], plots: Sequence[Plot]
) -> str:
    """report.md's text: the metrics table, the plots as plots/<name>.png and the per-question table."""
    fmt = str(run.get("format", "questions"))
    lines = [f"# grounded eval ({fmt})", ""]
    ds = run.get("dataset") or {}
    lines += [
        f"- dataset: `{ds.get('path', '')}` (sha256 `{str(ds.get('sha256', ''))[:16]}…`)",
        f"- policy: {run.get('policy', '')}; generator: {(run.get('settings') or {}).get('generator', '')}; "
        f"threshold: {run_threshold(run)}",
        f"- index digest: `{str((run.get('index') or {}).get('digest', ''))[:16]}…`; git: `{run.get('git_revision', '')}`",
        f"- started {run.get('started', '')}, ended {run.get('ended', '')}",
        "",
        "| metric | value | 95% interval |",
        "|---|---:|---|",
    ]
    for m in metric_rows(summary):
        ci = "" if m.low is None or m.high is None else f"{_md_num(m.low, m.rate)}–{_md_num(m.high, m.rate)}"
        lines.append(f"| {m.name} | {_md_num(m.value, m.rate)} | {ci} |")
    for p in plots:
        lines += ["", f"## {p.title}", "", f"![{p.title}](plots/{p.name}.png)", "", p.caption]
    lines += ["", "## Per question", "", "| id | question | expected | answer | verdict |", "|---|---|---|---|---|"]
    for r in records:
        row = question_row(r, fmt)
        lines.append(
            "| "
            + " | ".join(_md_cell(row[k])[:200] for k in ("id", "question", "expected", "answer", "verdict"))
            + " |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    out: Path, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], run: Mapping[str, Any]
) -> list[Path]:
    """Write report.html, report.md and plots/*.png into `out`; the paths written."""
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    plots = make_plots(records, summary, run)
    written = []
    for p in plots:
        path = out / "plots" / f"{p.name}.png"
        path.write_bytes(p.png)
        written.append(path)
    (out / "report.html").write_text(render_html(records, summary, run, plots), encoding="utf-8")
    (out / "report.md").write_text(render_markdown(records, summary, run, plots), encoding="utf-8")
    return [out / "report.html", out / "report.md", *written]
