"""Compare evaluation runs question by question: deltas, paired tests, flipped verdicts, overlaid curves.

    grounded eval compare runs/a runs/b [runs/c ...] --out runs/a-vs-b

Every run is compared with the first (the baseline). Runs over different datasets are refused;
a different index or different settings are reported as warnings, naming what differs.

>>> cmp = compare([load_run(Path("runs/a")), load_run(Path("runs/b"))])
>>> write_comparison(Path("runs/a-vs-b"), cmp)   # report.html, report.md, plots/*.png
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.stats import mcnemar_paired, paired_bootstrap
from rag.errors import DatasetError

Record = dict[str, Any]


@dataclass(frozen=True)
class Run:
    """One run folder as read back: its per-question records, summary and run metadata."""

    name: str
    path: Path
    records: tuple[Record, ...]
    summary: dict[str, Any]
    meta: dict[str, Any]

    @property
    def by_id(self) -> dict[str, Record]:
        return {record_id(r): r for r in self.records}


@dataclass(frozen=True)
class MetricRow:
    """One metric across runs: the values, and each later run's delta and paired test against the first."""

    name: str
    test: str  # "McNemar (exact)" or "paired bootstrap"
    values: tuple[float | None, ...]
    n: tuple[int, ...]  # paired questions behind each delta (first entry: the baseline's own count)
    deltas: tuple[float | None, ...]  # one per later run
    p_values: tuple[float | None, ...]
    intervals: tuple[tuple[float, float] | None, ...] = ()  # bootstrap 95% interval of each delta


@dataclass(frozen=True)
class Flip:
    """A question whose verdict differs between the baseline and another run."""

    id: str
    question: str
    gold: tuple[str, ...]
    run: str
    answer_a: str
    answer_b: str
    right_a: bool
    right_b: bool


@dataclass(frozen=True)
class Comparison:
    """Everything a comparison report shows."""

    runs: tuple[Run, ...]
    metrics: tuple[MetricRow, ...]
    flips: tuple[Flip, ...]
    warnings: tuple[str, ...]
    matched: int
    plots: dict[str, bytes] = field(default_factory=dict, hash=False, compare=False)


# --- reading runs -----------------------------------------------------------------------------
def record_id(r: Record) -> str:
    """The question id of a per-question record (question sets and SQuAD: "id"; BEIR: "query_id")."""
    return str(r.get("id", r.get("query_id", "")))


def load_run(path: Path) -> Run:
    """Read a run folder (results.jsonl, summary.json, run.json when present); errors say the fix."""
    path = Path(path)
    results = path / "results.jsonl"
    if not results.is_file():
        subs = sorted(p.parent.name for p in path.glob("*/results.jsonl"))
        if subs:
            raise DatasetError(
                f"{path} holds one run per policy ({', '.join(subs)}): compare those folders, e.g. {path / subs[0]}"
            )
        raise DatasetError(f"no results.jsonl in {path}: write a run first with `grounded eval FILE --out {path}`")
    records = []
    for lineno, line in enumerate(results.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(f"{results}:{lineno}: not valid JSON ({e.msg}): rewrite the run") from None

    def read(name: str) -> dict[str, Any]:
        f = path / name
        return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}

    return Run(path.name or str(path), path, tuple(records), read("summary.json"), read("run.json"))


def _lookup(data: dict[str, Any], *dotted: str) -> Any:
    """The first of the dotted keys present in `data` ("index.digest" looks in data["index"]["digest"])."""
    for key in dotted:
        cur: Any = data
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None:
            return cur
    return None


def dataset_sha(run: Run) -> str | None:
    return _lookup(run.meta, "dataset.sha256", "dataset_sha256")


def index_digest(run: Run) -> str | None:
    return _lookup(run.meta, "index.digest", "index.manifest_digest", "index_digest", "manifest_digest")


def run_settings(run: Run) -> dict[str, Any]:
    """The run's settings: run.json's full settings, else the summary's record of them."""
    return dict(_lookup(run.meta, "settings") or _lookup(run.summary, "settings") or {})


def check_same_dataset(runs: Sequence[Run]) -> None:
    """Refuse runs over different datasets: by dataset sha256 when every run records it, else by question ids."""
    base = runs[0]
    for other in runs[1:]:
        sa, sb = dataset_sha(base), dataset_sha(other)
        if sa and sb:
            if sa != sb:
                raise DatasetError(
                    f"{base.path} and {other.path} are over different datasets (sha256 {sa[:12]}… vs {sb[:12]}…): "
                    "compare runs of the same question file"
                )
            continue
        ia, ib = set(base.by_id), set(other.by_id)
        if ia != ib:
            only_a, only_b = sorted(ia - ib), sorted(ib - ia)
            example = (only_a or only_b)[0]
            raise DatasetError(
                f"{base.path} and {other.path} are over different datasets ({len(only_a)} question id(s) only in the "
                f"first, {len(only_b)} only in the second, e.g. {example!r}): compare runs of the same question file"
            )


def differences(runs: Sequence[Run]) -> list[str]:
    """Warnings: which runs used another index (manifest digest) or other settings, and which keys."""
    base, out = runs[0], []
    sa = run_settings(base)
    for other in runs[1:]:
        da, db = index_digest(base), index_digest(other)
        if da and db and da != db:
            out.append(f"{other.name} used another index than {base.name} (manifest digest {da[:12]}… vs {db[:12]}…)")
        sb = run_settings(other)
        keys = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))
        if keys:
            shown = ", ".join(f"{k} ({sa.get(k)!r} → {sb.get(k)!r})" for k in keys)
            out.append(f"{other.name} differs from {base.name} in settings: {shown}")
    return out


# --- per-question verdicts and metrics --------------------------------------------------------
def answerable(r: Record) -> bool | None:
    v = r.get("answerable", r.get("has_answer"))
    return None if v is None else bool(v)


def verdict(r: Record) -> bool | None:
    """Whether the run got this question right (answered correctly, or refused an unanswerable one)."""
    if "correct" in r:
        return bool(r["correct"])
    if "contains" in r and answerable(r) is not None:  # SQuAD records
        return bool(r["contains"]) and not r["abstained"] if answerable(r) else bool(r["abstained"])
    return None


Predicate = Callable[[Record], bool | None]
BINARY: tuple[tuple[str, Callable[[Record], bool], Predicate], ...] = (
    ("answer_accuracy", lambda r: answerable(r) is True, verdict),
    ("refusal_accuracy", lambda r: answerable(r) is False, lambda r: bool(r.get("abstained"))),
    ("false_refusal_rate", lambda r: answerable(r) is True, lambda r: bool(r.get("abstained"))),
    ("overall_accuracy", lambda r: answerable(r) is not None, verdict),
)
MEANS = ("f1", "exact", "citation_precision", "citation_recall", "latency_ms")


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def mean_metric_names(records: Iterable[Record]) -> list[str]:
    """The per-question numeric metrics present: MEANS, plus BEIR's nested "list metric@k" scores."""
    names: dict[str, None] = {}
    for r in records:
        for k in MEANS:
            if _number(r.get(k)) is not None:
                names[k] = None
        for k, v in r.items():
            if isinstance(v, dict):
                for m, x in v.items():
                    if "@" in m and _number(x) is not None:
                        names[f"{k} {m}"] = None
    return list(names)


def mean_value(r: Record, name: str) -> float | None:
    if " " in name:
        outer, inner = name.split(" ", 1)
        return _number((r.get(outer) or {}).get(inner))
    return _number(r.get(name))


def metric_rows(runs: Sequence[Run], ids: Sequence[str], resamples: int = 2000, seed: int = 0) -> list[MetricRow]:
    """Every metric of every run, with each later run's delta and paired test against the first."""
    maps = [run.by_id for run in runs]
    base = maps[0]
    rows = []
    for name, subset, success in BINARY:
        qs = [i for i in ids if subset(base[i]) and all(success(m[i]) is not None for m in maps)]
        if not qs:
            continue
        hits = [[bool(success(m[i])) for i in qs] for m in maps]
        values = tuple(sum(h) / len(h) for h in hits)
        tests = [mcnemar_paired(hits[0], h) for h in hits[1:]]
        rows.append(
            MetricRow(
                name,
                "McNemar (exact)",
                values,
                tuple(len(qs) for _ in maps),
                tuple(v - values[0] for v in values[1:]),
                tuple(t.p_value for t in tests),
            )
        )
    for name in mean_metric_names(runs[0].records):
        own = [[mean_value(m[i], name) for i in ids] for m in maps]
        values = tuple(_avg(v) for v in own)
        deltas, ps, intervals, ns = [], [], [], [sum(v is not None for v in own[0])]
        for vals in own[1:]:
            pairs = [(a, b) for a, b in zip(own[0], vals, strict=True) if a is not None and b is not None]
            ns.append(len(pairs))
            if not pairs:
                deltas.append(None), ps.append(None), intervals.append(None)
                continue
            bs = paired_bootstrap([a for a, _ in pairs], [b for _, b in pairs], resamples, seed)
            deltas.append(bs.delta), ps.append(bs.p_value), intervals.append((bs.low, bs.high))
        rows.append(MetricRow(name, "paired bootstrap", values, tuple(ns), tuple(deltas), tuple(ps), tuple(intervals)))
    return rows


def _avg(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def flips(runs: Sequence[Run], ids: Sequence[str]) -> list[Flip]:
    """The questions whose verdict differs between the baseline and each other run, with both answers."""
    base = runs[0].by_id
    out = []
    for other in runs[1:]:
        theirs = other.by_id
        for i in ids:
            a, b = base[i], theirs[i]
            va, vb = verdict(a), verdict(b)
            if va is None or vb is None or va == vb:
                continue
            out.append(
                Flip(
                    i,
                    str(a.get("question", a.get("query", ""))),
                    tuple(str(g) for g in a.get("gold", ()) or ()),
                    other.name,
                    str(a.get("answer", "")),
                    str(b.get("answer", "")),
                    va,
                    vb,
                )
            )
    return out


def compare(runs: Sequence[Run], resamples: int = 2000, seed: int = 0, plots: bool = True) -> Comparison:
    """Compare runs (the first is the baseline); DatasetError when they are over different datasets."""
    if len(runs) < 2:
        raise DatasetError("compare needs at least two run folders: grounded eval compare RUN_A RUN_B")
    check_same_dataset(runs)
    ids = [record_id(r) for r in runs[0].records]
    cmp = Comparison(
        tuple(runs),
        tuple(metric_rows(runs, ids, resamples, seed)),
        tuple(flips(runs, ids)),
        tuple(differences(runs)),
        len(ids),
    )
    if plots:
        cmp.plots.update(comparison_plots(runs))
    return cmp


# --- curves -----------------------------------------------------------------------------------
def abstention_score(r: Record) -> float | None:
    """The per-question abstention score: "score" (run format), else the extractive "evidence"."""
    return _number(r.get("score", r.get("evidence")))


def risk_coverage(records: Sequence[Record]) -> tuple[list[float], list[float]]:
    """(coverage, accuracy of the answered) as the abstention threshold sweeps down the questions' scores.

    A question counts as right by its record's "correct_if_answered" (eval.runner: an abstained one by its
    best candidate); without it, only if the run answered it correctly. An unanswerable question answered
    is wrong. Questions without a score are left out.
    """
    pts = []
    for r in records:
        s = abstention_score(r)
        if s is None:
            continue
        right = r.get("correct_if_answered")
        if right is None:
            right = answerable(r) is True and bool(verdict(r)) and not r.get("abstained")
        pts.append((s, right))
    pts.sort(key=lambda p: -p[0])
    cov, acc, right = [], [], 0
    for k, (_, ok) in enumerate(pts, 1):
        right += ok
        cov.append(k / len(pts))
        acc.append(right / k)
    return cov, acc


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (and the figure closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (offline, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def comparison_plots(runs: Sequence[Run]) -> dict[str, bytes]:
    """{file name: PNG}: risk–coverage curves and latency CDFs of the runs, overlaid."""
    plt = pyplot()
    out: dict[str, bytes] = {}
    curves = [(run.name, *risk_coverage(run.records)) for run in runs]
    if any(c[1] for c in curves):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for name, cov, acc in curves:
            if cov:
                ax.plot(cov, acc, label=name, drawstyle="steps-post")
        ax.set(xlabel="coverage (share answered)", ylabel="accuracy of the answered", xlim=(0, 1), ylim=(0, 1.02))
        ax.set_title("Risk–coverage")
        ax.grid(alpha=0.3)
        ax.legend()
        out["risk_coverage.png"] = figure_png(fig)
    lats = [
        (run.name, sorted(v for r in run.records if (v := _number(r.get("latency_ms"))) is not None)) for run in runs
    ]
    if any(v for _, v in lats):
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for name, vals in lats:
            if vals:
                ax.plot(vals, [(i + 1) / len(vals) for i in range(len(vals))], label=name, drawstyle="steps-post")
        ax.set(xlabel="latency per question (ms)", ylabel="share of questions", ylim=(0, 1.02))
        ax.set_xscale("log")
        ax.set_title("Latency CDF")
        ax.grid(alpha=0.3)
        ax.legend()
        out["latency_cdf.png"] = figure_png(fig)
    return out


# --- rendering --------------------------------------------------------------------------------
def fmt_value(name: str, v: float | None, delta: bool = False) -> str:
    """A metric value for display: rates as percent (points for deltas), latency in ms, means to 3 places."""
    if v is None:
        return "n/a"
    if name.startswith("latency"):
        return f"{v:+.0f} ms" if delta else f"{v:.0f} ms"
    if name in {b[0] for b in BINARY}:
        return f"{100 * v:+.1f} pts" if delta else f"{100 * v:.1f}%"
    return f"{v:+.3f}" if delta else f"{v:.3f}"


def fmt_p(p: float | None) -> str:
    return "n/a" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell (one line; pipes and HTML tags escaped)."""
    flat = " ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return flat.replace("|", "\\|")


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render(template: str, html: bool, **context: Any) -> str:
    """Render a Jinja2 template string; HTML is autoescaped, Markdown cells go through `md`."""
    import jinja2

    env = jinja2.Environment(autoescape=html, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(md=md_cell, value=fmt_value, p=fmt_p, data_uri=data_uri)
    return env.from_string(template).render(**context)


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#f3f3f3}.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:6px 10px}
.sig{font-weight:bold}.right{color:#1a7f37}.wrong{color:#b42318}img{max-width:100%}"""

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Comparison: {{ names|join(' vs ') }}</title>
<style>{{ css }}</style></head><body>
<h1>Comparison: {{ names|join(' vs ') }}</h1>
<p>{{ cmp.matched }} questions matched by id. Baseline: <b>{{ names[0] }}</b> ({{ cmp.runs[0].path }}).
Deltas are each run minus the baseline over the questions both runs scored; p-values are paired
(exact McNemar for rates, bootstrap for means).</p>
{% for w in cmp.warnings %}<p class="warn">⚠ {{ w }}</p>
{% endfor %}
<h2>Metrics</h2>
<table><tr><th>metric</th><th>test</th>{% for n in names %}<th>{{ n }}</th>{% endfor %}
{% for n in names[1:] %}<th>Δ {{ n }}</th><th>p</th>{% endfor %}</tr>
{% for row in cmp.metrics %}<tr><td>{{ row.name }}</td><td>{{ row.test }}</td>
{% for v in row.values %}<td>{{ row.name|value(v) }}</td>{% endfor %}
{% for d in row.deltas %}<td>{{ row.name|value(d, true) }}</td>
<td class="{{ 'sig' if row.p_values[loop.index0] is not none and row.p_values[loop.index0] < 0.05 else '' }}">
{{ row.p_values[loop.index0]|p }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% for name, png in plots %}<h2>{{ name }}</h2><img alt="{{ name }}" src="{{ png|data_uri }}">
{% endfor %}
<h2>Flipped verdicts ({{ cmp.flips|length }})</h2>
{% if cmp.flips %}<table><tr><th>id</th><th>question</th><th>expected</th><th>run</th>
<th>{{ names[0] }}</th><th>other run</th></tr>
{% for f in cmp.flips %}<tr><td>{{ f.id }}</td><td>{{ f.question }}</td><td>{{ f.gold|join('; ') }}</td>
<td>{{ f.run }}</td><td class="{{ 'right' if f.right_a else 'wrong' }}">{{ '✓' if f.right_a else '✗' }} {{ f.answer_a }}</td>
<td class="{{ 'right' if f.right_b else 'wrong' }}">{{ '✓' if f.right_b else '✗' }} {{ f.answer_b }}</td></tr>
{% endfor %}</table>{% else %}<p>No question changed verdict.</p>{% endif %}
</body></html>
"""

MARKDOWN = """# Comparison: {{ names|join(' vs ') }}

{{ cmp.matched }} questions matched by id. Baseline: **{{ names[0]|md }}**. Deltas are each run minus the baseline
over the questions both runs scored; p-values are paired (exact McNemar for rates, bootstrap for means).
{% for w in cmp.warnings %}

> ⚠ {{ w|md }}
{% endfor %}

## Metrics

| metric | test |{% for n in names %} {{ n|md }} |{% endfor %}{% for n in names[1:] %} Δ {{ n|md }} | p |{% endfor %}

|---|---|{% for n in names %}---|{% endfor %}{% for n in names[1:] %}---|---|{% endfor %}

{% for row in cmp.metrics %}
| {{ row.name }} | {{ row.test }} |{% for v in row.values %} {{ row.name|value(v) }} |{% endfor %}
{% for d in row.deltas %} {{ row.name|value(d, true) }} | {{ row.p_values[loop.index0]|p }} |{% endfor %}

{% endfor %}
{% for name, png in plots %}

![{{ name }}](plots/{{ name }})
{% endfor %}

## Flipped verdicts ({{ cmp.flips|length }})

{% if cmp.flips %}
| id | question | expected | run | {{ names[0]|md }} | other run |
|---|---|---|---|---|---|
{% for f in cmp.flips %}
| {{ f.id|md }} | {{ f.question|md }} | {{ f.gold|join('; ')|md }} | {{ f.run|md }} | {{ '✓' if f.right_a else '✗' }} \
{{ f.answer_a|md }} | {{ '✓' if f.right_b else '✗' }} {{ f.answer_b|md }} |
{% endfor %}
{% else %}
No question changed verdict.
{% endif %}
"""


def write_comparison(out: Path, cmp: Comparison) -> list[Path]:
    """Write report.html (self-contained), report.md and plots/*.png under `out`; the files written."""
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in cmp.plots.items():
        (out / "plots" / name).write_bytes(png)
        written.append(out / "plots" / name)
    names = [r.name for r in cmp.runs]
    if len(set(names)) < len(names):  # runs/x/a and runs/y/a: label them by their paths
        names = [str(r.path) for r in cmp.runs]
    plots = sorted(cmp.plots.items())
    ctx = {"cmp": cmp, "names": names, "plots": plots, "css": CSS}
    (out / "report.html").write_text(render(HTML, True, **ctx), encoding="utf-8")
    (out / "report.md").write_text(render(MARKDOWN, False, **ctx), encoding="utf-8")
    return [out / "report.html", out / "report.md", *written]


def format_comparison(cmp: Comparison, max_flips: int = 20) -> str:
    """The comparison as text lines for the terminal."""
    names = [r.name for r in cmp.runs]
    lines = [f"{cmp.matched} questions; baseline {names[0]}"]
    head = f"{'metric':22}" + "".join(f"{n[:14]:>15}" for n in names)
    head += "".join(f"{'Δ ' + n[:10]:>14}{'p':>8}" for n in names[1:])
    lines.append(head)
    for row in cmp.metrics:
        line = f"{row.name:22}" + "".join(f"{fmt_value(row.name, v):>15}" for v in row.values)
        line += "".join(
            f"{fmt_value(row.name, d, True):>14}{fmt_p(p):>8}" for d, p in zip(row.deltas, row.p_values, strict=True)
        )
        lines.append(line)
    lines.append(f"flipped verdicts: {len(cmp.flips)}")
    for f in cmp.flips[:max_flips]:
        arrow = f"{'right' if f.right_a else 'wrong'} → {'right' if f.right_b else 'wrong'}"
        lines.append(f"  {f.id} [{f.run}] {arrow}: {f.question[:70]}")
    if len(cmp.flips) > max_flips:
        lines.append(f"  … {len(cmp.flips) - max_flips} more in the report")
    return "\n".join(lines)
