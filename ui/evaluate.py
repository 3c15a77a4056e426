"""The app's Evaluate tab: run a question set through the serving pipeline, read its report, compare runs.

Runs are folders under `<index>/runs/<YYYYmmdd-HHMMSS>-<set>/` (the run folder of notes/ISSUE11.md: results.jsonl,
summary.json, run.json, report.html, report.md, plots/*.png, plus questions.jsonl: the questions actually run).
`Evaluator(service)` does the work and knows nothing of widgets; `evaluate_tab(evaluator, generators)` lays it out
inside the app's Blocks:

    with gr.Tabs():
        ...
        evaluate_tab(Evaluator(service), ["extractive", "local"])

A run holds one slot of its own queue ("evaluate", one run at a time) and never one of the chat's answer slots,
so chat keeps its full `GROUNDED_CONCURRENCY` while an evaluation runs.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import gradio as gr
from markupsafe import Markup

from eval.compare import compare, fmt_p, fmt_value, load_run
from eval.dataset import EvalQuestion, load_questions
from eval.report import question_row
from eval.run import load_run as load_run_folder
from eval.run import now_iso, run_record, write_run
from eval.runner import run as run_questions
from rag.errors import DatasetError, GroundedError
from rag.settings import GENERATOR_NAMES, POLICIES
from ui.html.glass_box import glass_box_html
from ui.service import ChatService

DATA_DIR = Path(__file__).resolve().parents[1] / "eval" / "data"
UPLOADED = "__uploaded__"  # the question-set choice meaning "the uploaded file"
TABLE_HEADERS = ["id", "question", "expected", "answer", "verdict"]
PLOT_TITLES = {  # plots/<name>.png as eval.report writes them, in report order
    "metrics": "Metrics with 95% intervals",
    "types": "Per question type",
    "risk_coverage": "Risk–coverage (what refusing costs)",
    "latency": "Latency per stage",
}
SUMMARY_RATES = ("answer_accuracy", "refusal_accuracy", "false_refusal_rate", "citation_support", "overall_accuracy")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}")
_PLOTTING = threading.Lock()  # matplotlib's pyplot is not thread-safe: one run's plots or one comparison at a time

Progress = Callable[[int, int], None]


# --- question sets -------------------------------------------------------------------------------
def question_sets(data_dir: Path = DATA_DIR) -> list[str]:
    """The bundled question sets: the .jsonl files in eval/data/ (names only)."""
    return sorted(p.name for p in Path(data_dir).glob("*.jsonl") if p.is_file())


def check_question_file(path: Path, name: str | None = None) -> list[EvalQuestion]:
    """The questions of an uploaded JSONL file; a DatasetError of one line that says the fix (and names the
    file by `name`, never by its server path)."""
    path = Path(path)
    name = name or path.name
    try:
        questions = load_questions(path)
    except UnicodeDecodeError:
        raise DatasetError(f"{name} is not UTF-8 text: save it as UTF-8 JSONL, one question object per line") from None
    except DatasetError as e:
        raise DatasetError(" ".join(str(e).replace(str(path), name).split())) from None
    return questions


def set_name(label: str) -> str:
    """A question set's name for a run folder: the file stem, reduced to letters, digits, '_' and '-'."""
    stem = Path(label).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:60] or "questions"


def new_run_folder(runs_dir: Path, label: str, when: datetime | None = None) -> Path:
    """A new, empty `<runs_dir>/<YYYYmmdd-HHMMSS>-<set>/` (suffixed -2, -3 … if that second is taken)."""
    when = when or datetime.now(UTC)
    base = f"{when:%Y%m%d-%H%M%S}-{set_name(label)}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = runs_dir / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise GroundedError(f"too many runs named {base} in {runs_dir.name}: wait a second and run again")


def questions_file(source: Path, dest: Path, limit: int) -> int:
    """Copy the questions to run into `dest` (the file as it is, or its first `limit` questions' lines), so the
    run's dataset sha256 names exactly the questions it ran; how many lines were kept."""
    if limit <= 0:
        shutil.copyfile(source, dest)
        return sum(1 for line in dest.read_text(encoding="utf-8").splitlines() if line.strip())
    lines = [line for line in Path(source).read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    dest.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


# --- past runs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunEntry:
    """One past run as the dropdowns list it: its folder name and a label saying what it was."""

    name: str
    label: str


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pct(value: Any) -> str:
    return f"{100 * value:.0f}%" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


def run_label(folder: Path) -> str:
    """'<name> · extractive, flag, top-k 5 · 5 questions · answer accuracy 80%'."""
    run, summary = _read_json(folder / "run.json"), _read_json(folder / "summary.json")
    s = run.get("settings") or {}
    parts = [folder.name]
    if s:
        parts.append(
            f"{s.get('generator', '?')}, {run.get('policy', s.get('verify_policy', '?'))}, top-k {s.get('top_k', '?')}"
        )
    if "questions" in summary:
        parts.append(f"{summary['questions']} questions")
    if "answer_accuracy" in summary:
        parts.append(f"answer accuracy {_pct(summary['answer_accuracy'])}")
    return " · ".join(parts)


def list_runs(runs_dir: Path) -> list[RunEntry]:
    """The run folders under `runs_dir` (those with results.jsonl and summary.json), newest first."""
    if not Path(runs_dir).is_dir():
        return []
    folders = [
        p
        for p in Path(runs_dir).iterdir()
        if p.is_dir() and _NAME.fullmatch(p.name) and (p / "results.jsonl").is_file() and (p / "summary.json").is_file()
    ]
    return [RunEntry(p.name, run_label(p)) for p in sorted(folders, key=lambda p: p.name, reverse=True)]


def run_path(runs_dir: Path, name: str | None) -> Path:
    """The folder of the run called `name` (a direct child of `runs_dir`); DatasetError with the fix otherwise."""
    if not name or not _NAME.fullmatch(name) or not (Path(runs_dir) / name / "results.jsonl").is_file():
        raise DatasetError(f"no run called {name!r}: pick one from the list of past runs, or run an evaluation")
    return Path(runs_dir) / name


@lru_cache(maxsize=4)  # records carry traces: a few runs at most
def _records(folder: str, stamp: float) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    return load_run_folder(Path(folder))


def read_run(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(records, summary, run) of a run folder, read once per version of its results.jsonl."""
    return _records(str(folder), (folder / "results.jsonl").stat().st_mtime)


# --- showing a run -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunView:
    """What the tab shows of one run: the summary line, the plots and the per-question table."""

    name: str
    summary_html: str
    plots_html: str
    rows: list[list[str]]


def _img(png: bytes, alt: str) -> Markup:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return Markup('<img class="g-eval-plot" alt="{}" src="{}" style="max-width:100%">').format(alt, uri)


def plots_html(folder: Path) -> str:
    """The run's plots/*.png (embedded, report order), each under its title."""
    pngs = sorted((folder / "plots").glob("*.png"))
    order = list(PLOT_TITLES)
    pngs.sort(key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    parts = [
        Markup('<figure class="g-eval-figure" data-plot="{}"><figcaption><b>{}</b></figcaption>{}</figure>').format(
            p.stem, PLOT_TITLES.get(p.stem, p.stem), _img(p.read_bytes(), PLOT_TITLES.get(p.stem, p.stem))
        )
        for p in pngs
    ]
    if not parts:
        return '<div class="g-note">This run has no plots.</div>'
    grid = "display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1em;align-items:start"
    return str(Markup('<div class="g-eval-plots" style="{}">{}</div>').format(grid, Markup("").join(parts)))


def summary_html(name: str, summary: dict[str, Any], run: dict[str, Any]) -> str:
    """One block: which run, with which settings, and its main rates with their 95% intervals."""
    intervals = summary.get("intervals") or {}
    items = []
    for key in SUMMARY_RATES:
        if key in summary:
            lo_hi = intervals.get(key)
            ci = f" (95% {_pct(lo_hi[0])}–{_pct(lo_hi[1])})" if lo_hi else ""
            items.append(Markup("<li>{}: <b>{}</b>{}</li>").format(key.replace("_", " "), _pct(summary[key]), ci))
    if isinstance(summary.get("latency_ms_p50"), int | float):
        items.append(Markup("<li>latency p50: <b>{:.0f} ms</b></li>").format(summary["latency_ms_p50"]))
    seconds = run.get("seconds")
    took = f", took {seconds:.0f} s" if isinstance(seconds, int | float) else ""
    judge = summary.get("judge_label", "")
    return str(
        Markup('<div class="g-eval-summary" data-run="{}"><div><b>{}</b>{}{}</div><ul>{}</ul></div>').format(
            name,
            run_label_settings(run, summary),
            took,
            f"; citations {judge}" if judge else "",
            Markup("").join(items),
        )
    )


def run_label_settings(run: dict[str, Any], summary: dict[str, Any]) -> str:
    s = run.get("settings") or {}
    n = summary.get("questions", "?")
    return f"{n} questions · generator {s.get('generator', '?')}, policy {run.get('policy', '?')}, top-k {s.get('top_k', '?')}"


def table_rows(records: Sequence[dict[str, Any]], fmt: str = "questions") -> list[list[str]]:
    """The per-question table: id, question, expected, answer, verdict."""
    return [[str(question_row(r, fmt)[k]) for k in TABLE_HEADERS] for r in records]


def run_view(folder: Path) -> RunView:
    """Everything the tab shows of the run in `folder`."""
    records, summary, run = read_run(folder)
    fmt = str(run.get("format", "questions"))
    return RunView(folder.name, summary_html(folder.name, summary, run), plots_html(folder), table_rows(records, fmt))


# --- comparing two runs -------------------------------------------------------------------------------
def comparison_html(
    runs_dir: Path, a: str | None, b: str | None, clean: Callable[[str], str] = lambda text: text
) -> str:
    """`eval.compare` of run `a` (baseline) and run `b`: warnings, the metric table, the overlaid risk–coverage
    curves and the flipped questions. DatasetError (naming runs, not server paths) for different datasets.
    `clean` rewrites the warnings' text before it is escaped (the app: server paths to document names)."""
    pa, pb = run_path(runs_dir, a), run_path(runs_dir, b)
    if pa == pb:
        raise DatasetError("pick two different runs to compare (run A is the baseline, run B the other)")
    try:
        with _PLOTTING:
            cmp = compare([load_run(pa), load_run(pb)])
    except DatasetError as e:
        raise DatasetError(str(e).replace(str(pa), pa.name).replace(str(pb), pb.name)) from None
    warn = Markup("").join(Markup('<div class="g-eval-warning">⚠ {}</div>').format(clean(w)) for w in cmp.warnings)
    head = Markup("<tr><th>metric</th><th>test</th><th>A</th><th>B</th><th>Δ (B − A)</th><th>p</th></tr>")
    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            m.name,
            m.test,
            fmt_value(m.name, m.values[0]),
            fmt_value(m.name, m.values[1]),
            fmt_value(m.name, m.deltas[0], True),
            fmt_p(m.p_values[0]),
        )
        for m in cmp.metrics
    )
    table = Markup('<table class="g-table g-eval-metrics"><thead>{}</thead><tbody>{}</tbody></table>').format(
        head, rows
    )
    curve = cmp.plots.get("risk_coverage.png")
    wide = Markup('<div style="max-width:560px">{}</div>')
    plot = wide.format(_img(curve, "Risk–coverage, both runs")) if curve else Markup("")
    if cmp.flips:
        flip_rows = Markup("").join(
            Markup('<tr data-id="{}"><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{} {}</td></tr>').format(
                f.id,
                f.id,
                f.question,
                "; ".join(f.gold),
                "✓" if f.right_a else "✗",
                f.answer_a,
                "✓" if f.right_b else "✗",
                f.answer_b,
            )
            for f in cmp.flips
        )
        flips = Markup(
            '<h4>Flipped verdicts ({})</h4><table class="g-table g-eval-flips"><thead><tr><th>id</th><th>question</th>'
            "<th>expected</th><th>A: {}</th><th>B: {}</th></tr></thead><tbody>{}</tbody></table>"
        ).format(len(cmp.flips), pa.name, pb.name, flip_rows)
    else:
        flips = Markup('<p class="g-eval-no-flips">No question changed verdict between A and B.</p>')
    return str(
        Markup(
            '<div class="g-eval-compare"><p>{} questions matched; A = {} (baseline), B = {}.</p>{}{}{}{}</div>'
        ).format(cmp.matched, pa.name, pb.name, warn, table, plot, flips)
    )


# --- the work -------------------------------------------------------------------------------------
class Evaluator:
    """The Evaluate tab's work, independent of Gradio: run a question set, show a run, its glass boxes, compare.

    >>> ev = Evaluator(ChatService(Pipeline.from_settings(Settings())))
    >>> view = ev.run("demo_questions.jsonl", None, "extractive", "flag", 5, limit=5)
    >>> ev.glass(view.name, "a01")   # the glass box of question a01, from the stored trace
    """

    def __init__(self, service: ChatService, runs_dir: Path | None = None, data_dir: Path = DATA_DIR) -> None:
        self.service = service
        self.runs_dir = Path(runs_dir) if runs_dir else Path(service.pipeline.settings.index).expanduser() / "runs"
        self.data_dir = Path(data_dir)

    def question_sets(self) -> list[str]:
        return question_sets(self.data_dir)

    def runs(self) -> list[RunEntry]:
        return list_runs(self.runs_dir)

    def source(self, choice: str | None, upload: str | None) -> tuple[Path, str]:
        """(file, its name) of the chosen question set: a bundled one, or the uploaded file."""
        if choice == UPLOADED or (not choice and upload):
            if not upload:
                raise DatasetError("no file uploaded: upload a JSONL question file, or pick a bundled set")
            return Path(upload), Path(upload).name
        if choice not in self.question_sets():
            raise DatasetError(f"no bundled question set {choice!r}: pick one of {', '.join(self.question_sets())}")
        return self.data_dir / choice, choice

    def run(
        self,
        choice: str | None,
        upload: str | None,
        generator: str,
        policy: str,
        top_k: int,
        limit: int = 0,
        progress: Progress | None = None,
    ) -> RunView:
        """Run the question set (its first `limit` questions when > 0) through the serving pipeline with these
        settings, write the run folder under `runs_dir` and return what the tab shows of it."""
        if generator not in GENERATOR_NAMES:
            raise DatasetError(f"unknown generator {generator!r}: choose one of {', '.join(GENERATOR_NAMES)}")
        if policy not in POLICIES:
            raise DatasetError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
        path, label = self.source(choice, upload)
        check_question_file(path, label)  # the whole file, before anything is written
        folder = new_run_folder(self.runs_dir, label)
        try:
            questions_path = folder / "questions.jsonl"
            questions_file(path, questions_path, int(limit or 0))
            questions = check_question_file(questions_path, label)
            pipeline = self.service.variant(generator, int(top_k), policy)
            started = now_iso()
            if progress:
                progress(0, len(questions))
            records, summary = run_questions(pipeline, questions, progress, [policy])[policy]
            info = run_record(
                pipeline.settings,
                questions_path,
                "questions",
                policy,
                started,
                extra={"dataset_name": label, "limit": int(limit or 0) or None, "source": "app"},
            )
            with _PLOTTING:
                write_run(folder, records, summary, info)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # no half-written run in the list
            raise
        return run_view(folder)

    def view(self, name: str | None) -> RunView:
        return run_view(run_path(self.runs_dir, name))

    def glass(self, name: str | None, question_id: str) -> str:
        """The glass box of one question of a run, from the trace stored in its results.jsonl."""
        records, _, _ = read_run(run_path(self.runs_dir, name))
        record = next((r for r in records if str(r.get("id", r.get("query_id", ""))) == str(question_id)), None)
        if record is None:
            raise DatasetError(f"no question {question_id!r} in run {name}: click a row of the table")
        row = question_row(record, "questions")
        head = Markup(
            '<div class="g-eval-question" data-id="{}"><div><b>{}</b></div><div>expected: {}</div>'
            "<div>answer: {}</div><div>verdict: <b>{}</b></div></div>"
        ).format(row["id"], row["question"], row["expected"], row["answer"], row["verdict"])
        answer = self.service.public({**record, "timings_ms": record.get("timings") or {}})
        return str(head) + glass_box_html(answer)

    def compare(self, a: str | None, b: str | None) -> str:
        return comparison_html(self.runs_dir, a, b, self.service.public)


# --- the tab -------------------------------------------------------------------------------------
def _note(text: str, kind: str = "note") -> str:
    return str(Markup('<div class="g-{}">{}</div>').format(kind, text))


def _error(e: Exception) -> str:
    return str(Markup('<div class="g-eval-error">⚠ {}</div>').format(" ".join(str(e).split())))


def evaluate_tab(ev: Evaluator, generators: Sequence[str]) -> Any:
    """The Evaluate tab (call inside the app's `gr.Tabs()`); returns the Tab."""
    s = ev.service.pipeline.settings
    sets = ev.question_sets()
    default_set = "demo_questions.jsonl" if "demo_questions.jsonl" in sets else (sets[0] if sets else None)

    def set_choices(uploaded: str | None = None) -> list[tuple[str, str]]:
        return [(n, n) for n in sets] + ([(f"uploaded: {uploaded}", UPLOADED)] if uploaded else [])

    def run_choices() -> list[tuple[str, str]]:
        return [(r.label, r.name) for r in ev.runs()]

    def pair() -> tuple[str | None, str | None]:
        names = [r.name for r in ev.runs()]
        return (names[1] if len(names) > 1 else None), (names[0] if names else None)

    with gr.Tab("Evaluate", id="evaluate", elem_id="g-evaluate") as tab:
        gr.Markdown(
            "### Evaluate\nRun a question set through this server's pipeline (same index) with the settings below. "
            "Runs are kept with the index (`<index>/runs/`); one runs at a time, beside the chat."
        )
        with gr.Row():
            with gr.Column(scale=2):
                dataset = gr.Dropdown(set_choices(), value=default_set, label="Question set", elem_id="g-eval-set")
                upload = gr.File(
                    label="…or upload a JSONL question set", file_types=[".jsonl"], elem_id="g-eval-upload"
                )
                upload_note = gr.HTML("", elem_id="g-eval-upload-note")
            with gr.Column(scale=2):
                generator = gr.Dropdown(
                    list(generators), value=s.generator, label="Generator", elem_id="g-eval-generator"
                )
                policy = gr.Radio(
                    list(POLICIES),
                    value=s.verify_policy,
                    label="Unsupported sentences (policy)",
                    elem_id="g-eval-policy",
                )
                top_k = gr.Slider(
                    1,
                    10,
                    value=min(s.top_k, 10),
                    step=1,
                    label="Passages the model sees (top-k)",
                    elem_id="g-eval-topk",
                )
                limit = gr.Number(
                    0, precision=0, minimum=0, label="Limit to N questions (0 = all)", elem_id="g-eval-limit"
                )
                run_btn = gr.Button("Run evaluation", variant="primary", elem_id="g-eval-run")
        status = gr.HTML(
            '<div class="g-note">No run shown yet: run one, or pick a past run.</div>', elem_id="g-eval-status"
        )
        current = gr.State(None)
        runs_dd = gr.Dropdown(run_choices(), value=None, label="Past runs", elem_id="g-eval-runs")
        plots = gr.HTML("", elem_id="g-eval-plots")
        table = gr.Dataframe(
            headers=TABLE_HEADERS,
            column_widths=["6%", "28%", "14%", "40%", "12%"],
            interactive=False,
            wrap=True,
            max_height=420,
            label="Per question (click a row)",
            elem_id="g-eval-table",
        )
        glass = gr.HTML(
            '<div class="g-note">Click a row to see how that answer was made.</div>', elem_id="g-eval-glass"
        )
        gr.Markdown("### Compare two runs\nRun A is the baseline; runs over different question sets are refused.")
        a0, b0 = pair()
        with gr.Row():
            run_a = gr.Dropdown(run_choices(), value=a0, label="Run A (baseline)", elem_id="g-eval-a")
            run_b = gr.Dropdown(run_choices(), value=b0, label="Run B", elem_id="g-eval-b")
            compare_btn = gr.Button("Compare", elem_id="g-eval-compare")
        comparison = gr.HTML("", elem_id="g-eval-comparison")

    def lists(selected: str | None = None) -> tuple[Any, Any, Any]:
        choices = run_choices()
        a, b = pair()
        return (
            gr.Dropdown(choices=choices, value=selected),
            gr.Dropdown(choices=choices, value=a),
            gr.Dropdown(choices=choices, value=b),
        )

    def shown(view: Any) -> tuple[Any, ...]:
        return view.summary_html, view.plots_html, view.rows, view.name

    def uploaded(path: str | None) -> str | None:
        """The uploaded file's path, only if it lies in Gradio's upload folder (Gradio checks too)."""
        if path and not Path(path).resolve().is_relative_to(Path(gr.utils.get_upload_folder()).resolve()):
            raise DatasetError("that file was not uploaded here: upload the JSONL file again")
        return path

    def check_upload(path: str | None) -> tuple[str, Any]:
        if not path:
            return "", gr.Dropdown(choices=set_choices(), value=default_set)
        name = Path(path).name
        try:
            uploaded(path)
            n = len(check_question_file(Path(path), name))
        except GroundedError as e:
            return _error(e), gr.Dropdown(choices=set_choices(), value=default_set)
        return _note(f"✓ {n} questions in {name}: run them with the button."), gr.Dropdown(
            choices=set_choices(name), value=UPLOADED
        )

    def run(
        choice: str | None,
        path: str | None,
        gen: str,
        pol: str,
        k: float,
        n: float | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008  (Gradio's way to ask for a progress bar)
    ) -> tuple[Any, ...]:
        def step(i: int, total: int) -> None:
            progress(
                (i, total), desc=f"question {i} of {total}" if i else "loading the question set…", unit="questions"
            )

        try:
            view = ev.run(choice, uploaded(path), gen, pol, int(k), int(n or 0), step)
        except GroundedError as e:
            return _error(e), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        reset = _note("Click a row to see how that answer was made.")
        return (*shown(view), reset, *lists(view.name))

    def show(name: str | None) -> tuple[Any, ...]:
        if not name:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            view = ev.view(name)
        except GroundedError as e:
            return _error(e), "", [], None, ""
        return (*shown(view), _note("Click a row to see how that answer was made."))

    def open_row(name: str | None, evt: gr.SelectData) -> str:
        row = evt.row_value or []
        if not name or not row:
            return gr.skip()
        try:
            return ev.glass(name, str(row[0]))
        except GroundedError as e:
            return _error(e)

    def do_compare(a: str | None, b: str | None) -> str:
        try:
            return ev.compare(a, b)
        except GroundedError as e:
            return _error(e)

    private = {"api_visibility": "private"}
    upload.upload(check_upload, upload, [upload_note, dataset], **private)
    upload.clear(check_upload, upload, [upload_note, dataset], **private)
    run_btn.click(
        run,
        [dataset, upload, generator, policy, top_k, limit],
        [status, plots, table, current, glass, runs_dd, run_a, run_b],
        concurrency_limit=1,  # one evaluation at a time, in its own queue: the chat's answer slots stay free
        concurrency_id="evaluate",
        **private,
    )
    runs_dd.input(show, runs_dd, [status, plots, table, current, glass], **private)
    table.select(open_row, current, glass, **private)
    compare_btn.click(do_compare, [run_a, run_b], comparison, concurrency_limit=2, concurrency_id="compare", **private)
    tab.select(lambda cur: lists(cur), current, [runs_dd, run_a, run_b], **private)
    return tab
