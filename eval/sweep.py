"""Sweep a grid of settings over one question set and report the trade-off between answering and refusing.

    grounded eval eval/data/demo_questions.jsonl --sweep top_k=3,5,8 --sweep abstain_threshold=0.3,0.39,0.5 --out DIR

Questions are drafted (rewritten, retrieved, generated) once per combination of the settings that
act before or during generation; settings that act after it reuse those drafts:
- `verify_policy`, `support_threshold`, `relevance_threshold` only change the citation check (`Pipeline.finish`);
- `abstain_threshold` and `max_answer_sentences` of the extractive generator are re-applied to the
  draft's scored candidate sentences (its evidence scores), with no new retrieval or embedding; for the
  LLM generators they only steer the strict policy's extractive fallback, which runs in `finish`.

>>> sweep = run_sweep(pipeline, questions, parse_sweep(["abstain_threshold=0.3,0.5"]))
>>> write_sweep(Path("runs/sweep"), sweep)   # report.html, report.md, plots/pareto.png, one run folder per setting
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from eval.compare import CSS, figure_png, fmt_value, pyplot, render
from eval.dataset import EvalQuestion
from eval.judges import load_judge
from eval.metrics import summarize, wilson_interval
from eval.runner import score_answer, settings_record, with_trace, write_reports
from rag.errors import ConfigError
from rag.generators.extractive import Candidate, ExtractiveGenerator
from rag.pipeline import Draft, Pipeline
from rag.settings import Settings
from rag.types import Answer, Hit

# Settings that only change the citation check: the draft is reused as it is.
CHECK_KEYS = frozenset({"verify_policy", "support_threshold", "relevance_threshold"})
# Settings the extractive generator applies to its scored candidates: re-applied to the draft's candidates.
SELECT_KEYS = frozenset({"abstain_threshold", "max_answer_sentences"})
# Settings that have no effect on answering a question (ingest, serving, secrets, the index itself).
NOT_SWEEPABLE = frozenset(
    {
        "index",
        "embedding_model",
        "chunk_tokens",
        "chunk_overlap",
        "embed_batch_size",
        "threads",
        "lock_timeout",
        "embed_precision",
        "max_file_mb",
        "multilingual",
        "host",
        "port",
        "auth",
        "auth_file",
        "api_token",
        "insecure_no_auth",
        "upload_seconds",
        "concurrency",
        "queue_size",
        "openai_api_key",
    }
)
METRICS = ("answer_accuracy", "refusal_accuracy", "false_refusal_rate", "overall_accuracy", "citation_support")


@dataclass(frozen=True)
class SweepPoint:
    """One setting of the grid, its records and summary."""

    values: dict[str, Any]
    settings: Settings
    records: tuple[dict[str, Any], ...]
    summary: dict[str, Any]

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items())

    @property
    def slug(self) -> str:
        """A folder name for this setting."""
        return re.sub(r"[^A-Za-z0-9_.=-]+", "_", "_".join(f"{k}={v}" for k, v in self.values.items()))

    @property
    def worse(self) -> float | None:
        """The worse of answer accuracy and refusal accuracy (the one that is measured, if only one is)."""
        vals = [v for v in (self.summary.get("answer_accuracy"), self.summary.get("refusal_accuracy")) if v is not None]
        return min(vals) if vals else None


@dataclass(frozen=True)
class Sweep:
    """A finished sweep: the points in grid order, how many drafts were made, and the grid's keys."""

    keys: tuple[str, ...]
    points: tuple[SweepPoint, ...]
    drafts: int

    def pareto(self) -> list[int]:
        """Indices of the points no other point beats on answer accuracy and refusal accuracy together."""
        xy = [_xy(p) for p in self.points]
        return [
            i
            for i, (a, r) in enumerate(xy)
            if not any(a2 >= a and r2 >= r and (a2 > a or r2 > r) for j, (a2, r2) in enumerate(xy) if j != i)
        ]

    def best(self) -> int:
        """The index of the best point by the worse of the two accuracies (ties: their sum, then grid order)."""
        return max(
            range(len(self.points)),
            key=lambda i: (self.points[i].worse or 0.0, sum(_xy(self.points[i])), -i),
        )


def _xy(p: SweepPoint) -> tuple[float, float]:
    return p.summary.get("answer_accuracy") or 0.0, p.summary.get("refusal_accuracy") or 0.0


# --- the grid ---------------------------------------------------------------------------------
def parse_sweep(specs: Sequence[str]) -> dict[str, list[str]]:
    """`["top_k=3,5", "abstain_threshold=0.3,0.5"]` -> {key: [values]}; keys are checked against Settings."""
    axes: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, raw = spec.partition("=")
        key = key.strip().replace("-", "_")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not sep or not key or not values:
            raise ConfigError(f"--sweep {spec!r}: write KEY=V1,V2,…, e.g. --sweep top_k=3,5,8")
        if key not in Settings.model_fields:
            close = [k for k in Settings.model_fields if key in k or k in key][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"--sweep {key}: not a setting{hint}; sweep a field of rag.settings.Settings")
        if key in NOT_SWEEPABLE:
            raise ConfigError(f"--sweep {key}: does not change how a question is answered; sweep e.g. top_k")
        if key in axes:
            raise ConfigError(f"--sweep {key} given twice: put all its values in one --sweep {key}=V1,V2")
        axes[key] = values
    return axes


def build_grid(base: Settings, axes: dict[str, list[str]]) -> list[tuple[dict[str, Any], Settings]]:
    """Every combination of the axes as (typed values, settings); a bad value or combination names its key."""
    for key, values in axes.items():
        field = Settings.model_fields[key]
        check = TypeAdapter(Annotated[field.annotation, field])  # the field's type and bounds, alone
        for v in values:
            try:
                check.validate_python(v)
            except ValidationError as e:
                problem = "; ".join(err["msg"] for err in e.errors())
                raise ConfigError(
                    f"--sweep {key}={v}: {key} {problem.lower()}; give its values comma-separated, e.g. top_k=3,5,8"
                ) from None
    grid = []
    for combo in itertools.product(*axes.values()):
        raw = dict(zip(axes, combo, strict=True))
        try:
            settings = base.with_overrides(**raw)
        except ConfigError as e:
            shown = " ".join(f"{k}={v}" for k, v in raw.items())
            raise ConfigError(f"--sweep combination {shown}: {e}") from None
        grid.append(({k: getattr(settings, k) for k in axes}, settings))
    return grid


# --- reusing drafts ---------------------------------------------------------------------------
class ReusingExtractive(ExtractiveGenerator):
    """The extractive generator with its scored candidates remembered per (question, passages).

    Variants with another threshold or sentence count share the memo, so re-applying them to a
    draft costs no embedding: `generate` reads the candidates the draft already scored.
    """

    def __init__(self, embeddings: Any, memo: dict[Any, list[Candidate]], **kwargs: Any) -> None:
        super().__init__(embeddings, **kwargs)
        self.memo = memo

    def candidates(self, question: str, passages: Sequence[Hit]) -> list[Candidate]:
        key = (question, tuple((h.chunk.id, h.chunk.text) for h in passages))
        if key not in self.memo:
            self.memo[key] = super().candidates(question, passages)
        return self.memo[key]


def _reusing(settings: Settings, embeddings: Any, memo: dict[Any, list[Candidate]]) -> ReusingExtractive:
    return ReusingExtractive(
        embeddings,
        memo,
        threshold=settings.abstain_threshold,
        max_sentences=settings.max_answer_sentences,
        sim_weight=settings.evidence_sim_weight,
    )


@dataclass
class _Variant:
    """One grid point inside its draft group: the pipeline that finishes it and whether it re-selects."""

    index: int
    pipeline: Pipeline
    reselect: bool
    judge: Any  # eval.judges.CitationJudge


def _group_key(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The values of the settings that act before or during generation: one draft per question per key."""
    return tuple((k, v) for k, v in values.items() if k not in CHECK_KEYS | SELECT_KEYS)


def _record(q: EvalQuestion, answer: Answer, latency_ms: float, judge: Callable[..., bool]) -> dict[str, Any]:
    """The run-folder record: runner.score_answer with score, timings and trace (runner.with_trace)."""
    return with_trace(score_answer(q, answer, latency_ms, judge), q, answer)


def run_sweep(
    pipeline: Pipeline,
    questions: Sequence[EvalQuestion],
    axes: dict[str, list[str]],
    progress: Callable[[int, int], None] | None = None,
    judge: str = "self",
) -> Sweep:
    """Answer every question under every setting of the grid, drafting once per pre-generation setting.

    `judge` names the ALCE citation judge (eval.judges): "self" is each setting's own verifier (its
    support threshold); "llm" and "local" are loaded once and shared by every setting.
    """
    import time

    grid = build_grid(pipeline.settings, axes)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (values, _) in enumerate(grid):
        groups.setdefault(_group_key(values), []).append(i)
    shared = None if judge == "self" else load_judge(judge, pipeline)
    plans = []
    for members in groups.values():
        base = pipeline.with_settings(**dict(_group_key(grid[members[0]][0])))
        memo: dict[Any, list[Candidate]] = {}
        extractive = base.settings.generator == "extractive"
        if extractive:
            gen = _reusing(base.settings, base.embeddings, memo)
            base = Pipeline(base.settings, base.index, base.embeddings, gen, base.stages)
            base._live = pipeline._live
        variants = []
        for i in members:
            s = grid[i][1]
            reselect = extractive and any(getattr(s, k) != getattr(base.settings, k) for k in SELECT_KEYS)
            gen = _reusing(s, base.embeddings, memo) if reselect else base.generator
            pipe = Pipeline(s, base.index, base.embeddings, gen, base.stages)
            pipe._live = pipeline._live
            variants.append(_Variant(i, pipe, reselect, shared or load_judge(judge, pipe)))
        plans.append((base, memo, variants))
    records: list[list[dict[str, Any]]] = [[] for _ in grid]
    drafts = 0
    for n, q in enumerate(questions, 1):
        for base, memo, variants in plans:
            t0 = time.perf_counter()
            draft = base.draft(q.question)
            drafts += 1
            draft_ms = (time.perf_counter() - t0) * 1000
            for v in variants:
                t1 = time.perf_counter()
                d: Draft = draft
                if v.reselect:
                    d = replace(draft, generation=v.pipeline.generator.generate(draft.query, draft.passages))
                answer = v.pipeline.finish(d, v.pipeline.settings.verify_policy)
                records[v.index].append(_record(q, answer, draft_ms + (time.perf_counter() - t1) * 1000, v.judge))
            memo.clear()
        if progress:
            progress(n, len(questions))
    points = []
    judges = {v.index: v.judge for _, _, variants in plans for v in variants}
    for i, ((values, settings), recs) in enumerate(zip(grid, records, strict=True)):
        summary = summarize(recs)
        summary.update(judges[i].record())
        summary["settings"] = {**settings_record_for(settings), **{k: values[k] for k in values}}
        summary["sweep"] = values
        points.append(SweepPoint(values, settings, tuple(recs), summary))
    return Sweep(tuple(axes), tuple(points), drafts)


def settings_record_for(settings: Settings) -> dict[str, Any]:
    """runner.settings_record for settings rather than a pipeline (the same keys)."""
    return settings_record(SimpleNamespace(settings=settings), settings.verify_policy)  # type: ignore[arg-type]


# --- reporting --------------------------------------------------------------------------------
def table(sweep: Sweep) -> list[dict[str, Any]]:
    """One row per setting: its values, metrics, Wilson intervals of the two accuracies, Pareto and best marks."""
    front, best = set(sweep.pareto()), sweep.best()
    rows = []
    for i, p in enumerate(sweep.points):
        s = p.summary
        row: dict[str, Any] = {"setting": p.label, "slug": p.slug, **p.values}
        row.update({m: s.get(m) for m in METRICS})
        right_a = sum(r["correct"] for r in p.records if r["answerable"])
        right_r = sum(r["abstained"] for r in p.records if not r["answerable"])
        row["answer_interval"] = wilson_interval(right_a, s["answerable"]) if s["answerable"] else None
        row["refusal_interval"] = wilson_interval(right_r, s["unanswerable"]) if s["unanswerable"] else None
        row.update(worse=p.worse, latency_ms_p50=s["latency_ms_p50"], pareto=i in front, best=i == best)
        rows.append(row)
    return rows


def pareto_png(sweep: Sweep) -> bytes:
    """Answer accuracy against refusal accuracy for every setting, the Pareto front joined, the best starred."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xy = [_xy(p) for p in sweep.points]
    ax.scatter([r for _, r in xy], [a for a, _ in xy], color="#888", zorder=2, label="setting")
    front = sorted(sweep.pareto(), key=lambda i: xy[i][1])
    ax.plot([xy[i][1] for i in front], [xy[i][0] for i in front], "-o", color="#1f77b4", zorder=3, label="Pareto")
    b = sweep.best()
    ax.scatter([xy[b][1]], [xy[b][0]], marker="*", s=260, color="#d62728", zorder=4, label="best (worse of two)")
    at: dict[tuple[float, float], list[str]] = {}  # settings that land on the same point share one label
    for p, point in zip(sweep.points, xy, strict=True):
        at.setdefault(point, []).append(p.label)
    for (a, r), labels in at.items():
        ax.annotate("\n".join(labels), (r, a), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel="refusal accuracy (unanswerable refused)", ylabel="answer accuracy", xlim=(-0.02, 1.05))
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Answering against refusing")
    return figure_png(fig)


HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sweep: {{ keys|join(', ') }}</title>
<style>{{ css }}</style></head><body>
<h1>Sweep over {{ keys|join(', ') }}</h1>
<p>{{ n_points }} settings × {{ n_questions }} questions; {{ drafts }} drafts (retrieval + generation) made,
{{ n_points * n_questions - drafts }} reused for settings that act after generation.</p>
<p><b>Best by the worse of answer and refusal accuracy: {{ best.setting }}</b>
({{ 'answer_accuracy'|value(best.answer_accuracy) }} answer, {{ 'refusal_accuracy'|value(best.refusal_accuracy) }}
refusal).</p>
<table><tr>{% for k in keys %}<th>{{ k }}</th>{% endfor %}
<th>answer accuracy [95%]</th><th>refusal accuracy [95%]</th><th>false refusals</th><th>overall</th>
<th>citation support</th><th>worse of two</th><th>p50 latency</th><th>Pareto</th></tr>
{% for r in rows %}<tr{% if r.best %} style="background:#e8f5e9"{% endif %}>{% for k in keys %}<td>{{ r[k] }}</td>{% endfor %}
<td>{{ 'answer_accuracy'|value(r.answer_accuracy) }}{% if r.answer_interval %}
[{{ '%.0f'|format(100 * r.answer_interval[0]) }}–{{ '%.0f'|format(100 * r.answer_interval[1]) }}]{% endif %}</td>
<td>{{ 'refusal_accuracy'|value(r.refusal_accuracy) }}{% if r.refusal_interval %}
[{{ '%.0f'|format(100 * r.refusal_interval[0]) }}–{{ '%.0f'|format(100 * r.refusal_interval[1]) }}]{% endif %}</td>
<td>{{ 'false_refusal_rate'|value(r.false_refusal_rate) }}</td><td>{{ 'overall_accuracy'|value(r.overall_accuracy) }}</td>
<td>{{ 'citation_support'|value(r.citation_support) }}</td><td>{{ 'answer_accuracy'|value(r.worse) }}</td>
<td>{{ 'latency_ms_p50'|value(r.latency_ms_p50) }}</td><td>{{ '✓' if r.pareto else '' }}{{ ' ★' if r.best else '' }}</td></tr>
{% endfor %}</table>
<img alt="Pareto front" src="{{ png|data_uri }}">
<p>Each setting's run is in <code>settings/&lt;setting&gt;/</code>; compare two with
<code>grounded eval compare DIR_A DIR_B</code>.</p>
</body></html>
"""

MARKDOWN = """# Sweep over {{ keys|join(', ') }}

{{ n_points }} settings × {{ n_questions }} questions; {{ drafts }} drafts made, \
{{ n_points * n_questions - drafts }} reused for settings that act after generation.

**Best by the worse of answer and refusal accuracy: {{ best.setting|md }}**

|{% for k in keys %} {{ k }} |{% endfor %} answer accuracy | refusal accuracy | false refusals | overall | worse of two \
| p50 latency | Pareto |
|{% for k in keys %}---|{% endfor %}---|---|---|---|---|---|---|
{% for r in rows %}
|{% for k in keys %} {{ r[k]|md }} |{% endfor %} {{ 'answer_accuracy'|value(r.answer_accuracy) }} \
| {{ 'refusal_accuracy'|value(r.refusal_accuracy) }} | {{ 'false_refusal_rate'|value(r.false_refusal_rate) }} \
| {{ 'overall_accuracy'|value(r.overall_accuracy) }} | {{ 'answer_accuracy'|value(r.worse) }} \
| {{ 'latency_ms_p50'|value(r.latency_ms_p50) }} | {{ '✓' if r.pareto else '' }}{{ ' ★' if r.best else '' }} |
{% endfor %}

![Pareto front](plots/pareto.png)
"""


def write_sweep(out: Path, sweep: Sweep) -> list[Path]:
    """Write report.html, report.md, plots/pareto.png, sweep.json and settings/<setting>/ run folders."""
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    for p in sweep.points:
        write_reports(out / "settings" / p.slug, p.records, p.summary)
    rows = table(sweep)
    png = pareto_png(sweep)
    (out / "plots" / "pareto.png").write_bytes(png)
    ctx = {
        "keys": list(sweep.keys),
        "rows": rows,
        "best": rows[sweep.best()],
        "drafts": sweep.drafts,
        "n_points": len(sweep.points),
        "n_questions": len(sweep.points[0].records) if sweep.points else 0,
        "png": png,
        "css": CSS,
    }
    (out / "report.html").write_text(render(HTML, True, **ctx), encoding="utf-8")
    (out / "report.md").write_text(render(MARKDOWN, False, **ctx), encoding="utf-8")
    data = {"keys": list(sweep.keys), "drafts": sweep.drafts, "best": rows[sweep.best()]["setting"], "rows": rows}
    (out / "sweep.json").write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return [out / "report.html", out / "report.md", out / "plots" / "pareto.png", out / "sweep.json"]


def format_sweep(sweep: Sweep) -> str:
    """The sweep's table as text lines for the terminal."""
    rows = table(sweep)
    width = max(len(r["setting"]) for r in rows)
    lines = [f"{'setting':{width}}  answer  refusal  worse   p50 ms"]
    for r in rows:
        mark = ("  pareto" if r["pareto"] else "") + ("  ← best" if r["best"] else "")
        lines.append(
            f"{r['setting']:{width}}  {fmt_value('answer_accuracy', r['answer_accuracy']):>6}  "
            f"{fmt_value('refusal_accuracy', r['refusal_accuracy']):>7}  {fmt_value('answer_accuracy', r['worse']):>6}"
            f"  {r['latency_ms_p50']:7.0f}{mark}"
        )
    n = len(rows) * (len(sweep.points[0].records) if sweep.points else 0)
    lines.append(f"{sweep.drafts} drafts for {n} answers (the rest reused)")
    return "\n".join(lines)
