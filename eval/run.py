"""A run is a folder that explains itself: results, summary with intervals, run.json and the reports.

    from eval.run import run_record, write_run, now_iso
    started = now_iso()
    results = eval.runner.run(pipeline, questions)
    records, summary = results["strict"]
    info = run_record(pipeline.settings, "eval/data/demo_questions.jsonl", "questions", "strict", started)
    write_run(Path("runs/a"), records, summary, info)   # results.jsonl summary.json run.json report.html report.md

Layout (notes/ISSUE11.md): results.jsonl, summary.json (+ "intervals": {metric: [lo, hi]}), run.json,
report.html (self-contained), report.md and plots/*.png.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from eval.metrics import bootstrap_interval, wilson_interval

REPO = Path(__file__).resolve().parents[1]
PACKAGES = (
    "grounded",
    "torch",
    "sentence-transformers",
    "chromadb",
    "langchain-core",
    "langchain-chroma",
    "bm25s",
    "numpy",
    "pydantic",
    "gradio",
    "matplotlib",
    "jinja2",
    "xllamacpp",
    "openai",
)

# Rates (Wilson): metric -> (record field counted, records it is counted over).
QUESTION_RATES: dict[str, tuple[str, str]] = {
    "answer_accuracy": ("correct", "answerable"),
    "refusal_accuracy": ("abstained", "unanswerable"),
    "false_refusal_rate": ("abstained", "answerable"),
    "citation_support": ("citation_supported", "answered"),
    "source_recall_at_k": ("source_hit", "answerable"),
    "passage_recall_at_k": ("passage_hit", "answerable"),
    "overall_accuracy": ("correct", "all"),
}
QUESTION_MEANS = ("citation_precision", "citation_recall")


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second (run.json's started/ended)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's files (sorted relative paths and their contents)."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode("utf-8") + b"\0")
            h.update(bytes.fromhex(sha256_path(f)))
        return h.hexdigest()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def index_record(root: Path) -> dict[str, Any]:
    """The index's manifest summarised: digest (model, chunker, documents and their hashes) and document list."""
    from rag.index import Index, Manifest

    root = Path(root)
    if not Index.exists(root):
        return {"path": str(root), "digest": None, "documents": []}
    m = Manifest.load(root / "manifest.json")
    docs = [
        {"path": path, "content_hash": rec.content_hash, "chunks": len(rec.chunk_ids), "title": rec.title}
        for path, rec in sorted(m.documents.items())
    ]
    key = {
        "embedding_model": m.embedding_model,
        "multilingual_model": m.multilingual_model,
        "chunker": m.chunker,
        "documents": [[d["path"], d["content_hash"]] for d in docs],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
    return {
        "path": str(root),
        "digest": digest,
        "embedding_model": m.embedding_model,
        "multilingual_model": m.multilingual_model,
        "chunker": m.chunker,
        "generation": m.generation,
        "chunks": m.chunk_count,
        "documents": docs,
    }


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (None when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision(repo: Path = REPO) -> str:
    """`git rev-parse HEAD` of the source tree ("+dirty" when it has changes), or "unknown"."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}+dirty" if rev and dirty else (rev or "unknown")


def machine() -> dict[str, Any]:
    """Cores, CPU model (from /proc/cpuinfo where there is one), OS and Python."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                model = line.split(":", 1)[1].strip() or model
                break
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(affinity(0)) if affinity else os.cpu_count(),
        "cpu_model": model,
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def run_record(
    settings: Any,
    dataset: Path | str,
    fmt: str,
    policy: str,
    started: str,
    ended: str | None = None,
    *,
    index: Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """run.json's content: settings, index, packages, git revision, dataset path + sha256, machine, times.

    `settings` is a rag.settings.Settings (secrets are masked); `index` defaults to `settings.index`;
    `ended` defaults to now. `extra` adds fields (e.g. {"split": "test"}).
    """
    dataset = Path(dataset)
    info: dict[str, Any] = {
        "format": fmt,
        "policy": policy,
        "dataset": {
            "path": str(dataset.resolve()),
            "sha256": sha256_path(dataset) if dataset.exists() else None,
        },
        "settings": settings.model_dump(mode="json"),
        "index": index_record(Path(index or settings.index)),
        "packages": package_versions(),
        "git_revision": git_revision(),
        "machine": machine(),
        "started": started,
        "ended": ended or now_iso(),
    }
    try:
        seconds = (datetime.fromisoformat(info["ended"]) - datetime.fromisoformat(started)).total_seconds()
        info["seconds"] = seconds
    except ValueError:
        pass
    info.update(extra or {})
    return info


# --- intervals ---------------------------------------------------------------------------------
def _rate(records: Sequence[Mapping[str, Any]], field: str) -> list[float]:
    return [r[field] for r in records if r.get(field) is not None]


def _wilson(values: Sequence[Any]) -> list[float] | None:
    return list(wilson_interval(sum(bool(v) for v in values), len(values))) if values else None


def _boot(values: Sequence[Any], seed: int) -> list[float] | None:
    vals = [float(v) for v in values if v is not None]
    return list(bootstrap_interval(vals, seed=seed)) if vals else None


def intervals_for(fmt: str, records: Sequence[Mapping[str, Any]], seed: int = 0) -> dict[str, list[float]]:
    """95% intervals of the summary's metrics: Wilson for rates, seeded bootstrap for means and nDCG.

    Keys match the summary: "answer_accuracy" (questions), "HasAns.f1" (squad), "pipeline.ndcg@10" (beir).
    """
    out: dict[str, list[float] | None] = {}
    if fmt == "beir":
        lists = [k for k in (records[0] if records else {}) if isinstance(records[0].get(k), dict)]
        for name in lists:
            if name == "relevant":
                continue
            metrics = [m for m, v in records[0][name].items() if isinstance(v, int | float)]
            for m in metrics:
                out[f"{name}.{m}"] = _boot([r[name][m] for r in records], seed)
    elif fmt == "squad":
        has = [r for r in records if r.get("has_answer")]
        no = [r for r in records if not r.get("has_answer")]
        answered = [r for r in records if not r.get("abstained")]
        out["HasAns.exact"] = _boot([r["exact"] for r in has], seed)
        out["HasAns.f1"] = _boot([r["f1"] for r in has], seed)
        out["HasAns.accuracy"] = _wilson([bool(r.get("contains")) and not r["abstained"] for r in has])
        out["HasAns.false_refusal"] = _wilson([r["abstained"] for r in has])
        out["NoAns.accuracy"] = _wilson([r["abstained"] for r in no])
        out["overall.exact"] = _boot([r["exact"] for r in records], seed)
        out["overall.f1"] = _boot([r["f1"] for r in records], seed)
        out["citation_recall"] = _boot([r.get("citation_recall") for r in answered], seed)
        out["citation_precision"] = _boot([r.get("citation_precision") for r in answered], seed)
    else:
        groups = {
            "all": list(records),
            "answerable": [r for r in records if r.get("answerable")],
            "unanswerable": [r for r in records if r.get("answerable") is False],
            "answered": [r for r in records if r.get("answerable") and not r.get("abstained")],
        }
        if all("answerable" in r for r in records):
            for metric, (field, group) in QUESTION_RATES.items():
                out[metric] = _wilson(_rate(groups[group], field))
            for metric in QUESTION_MEANS:
                out[metric] = _boot([r.get(metric) for r in records], seed)
        elif all("correct" in r for r in records):
            out["accuracy"] = _wilson([r["correct"] for r in records])
    return {k: [round(v[0], 4), round(v[1], 4)] for k, v in out.items() if v is not None}


def with_intervals(fmt: str, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary plus "intervals" (kept as given when the summary already has them)."""
    out = dict(summary)
    out.setdefault("intervals", intervals_for(fmt, records))
    return out


# --- writing -------------------------------------------------------------------------------------
def write_run(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    run: Mapping[str, Any],
    *,
    report: bool = True,
) -> dict[str, Any]:
    """Write the run folder (results.jsonl, summary.json with intervals, run.json, report.html/.md, plots/).

    `run` is `run_record(...)`; its "format" picks the intervals and the report's sections.
    Returns the summary as written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    full = with_intervals(str(run.get("format", "questions")), records, summary)
    with (out / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(full, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "run.json").write_text(json.dumps(dict(run), indent=2, ensure_ascii=False), encoding="utf-8")
    if report:
        from eval.report import write_report

        write_report(out, records, full, run)
    return full


def write_bench_run(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    dataset: Path,
    settings: Any,
    fmt: str,
    markdown: str,
    started: str | None = None,
) -> None:
    """A benchmark's run folder (`write_run`; per-question corpora, so no index), its own table appended to
    report.md and report.html. `settings` is a rag.settings.Settings; `markdown` the benchmark's table."""
    from markupsafe import escape

    out = Path(out)
    ended = now_iso()
    extra = {"index": {"path": None, "digest": None, "documents": [], "note": "per-question corpora"}}
    run = run_record(settings, dataset, fmt, settings.verify_policy, started or ended, ended, extra=extra)
    if summary.get("seconds") is not None:
        run["seconds"] = summary["seconds"]
    write_run(out, records, summary, run)
    md = out / "report.md"
    md.write_text(md.read_text(encoding="utf-8") + "\n\n" + markdown + "\n", encoding="utf-8")
    html_path = out / "report.html"
    html = html_path.read_text(encoding="utf-8")
    section = f'<section id="{fmt}-table"><h2>{escape(fmt.upper())}</h2><pre>{escape(markdown)}</pre></section>'
    cut = html.rfind("</body>")
    html_path.write_text(html[:cut] + section + html[cut:] if cut >= 0 else html + section, encoding="utf-8")


def load_run(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(records, summary, run) of a run folder written by `write_run`."""
    folder = Path(folder)
    from rag.errors import DatasetError

    if not (folder / "summary.json").is_file() or not (folder / "results.jsonl").is_file():
        raise DatasetError(f"{folder} is not a run folder: write one with `grounded eval FILE --out {folder}`")
    lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    run_path = folder / "run.json"
    run = json.loads(run_path.read_text(encoding="utf-8")) if run_path.is_file() else {}
    return records, summary, run
