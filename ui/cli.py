"""The `grounded` command line: ingest, ask, serve, eval.

    grounded ingest [PATH ...] [--prune] [--rebuild]
    grounded ask "Who gave the lecture at the Politburo study session on AI?" [--json] [--explain]
    grounded ask - < questions.txt
    grounded doctor [--repair]
    grounded serve [--host 127.0.0.1] [--port 7860]
    grounded eval eval/data/demo_questions.jsonl [--policies flag,drop,strict] [--out DIR]
    grounded eval eval/data/questions_calib.jsonl --corpus ingest/demo_corpus eval/data/docs --out DIR
    grounded eval --format squad ../shared/bench/squad2_cs224n/dev-v2.0.json [--sample 500]
    grounded eval --format rgb ../shared/bench/rgb/zh_refine.json [--limit N] [--out DIR]
    grounded eval --format crag ../shared/bench/crag_example/dev_data.jsonl.bz2 [--out DIR]
    grounded eval eval/data/demo_questions.jsonl --sweep top_k=3,5,8 --sweep abstain_threshold=0.3,0.39,0.5 --out DIR
    grounded eval compare RUN_A RUN_B [RUN_C ...] [--out DIR]

Settings come from GROUNDED_* environment variables; flags override them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rag import OFFLINE_ENV
from rag.errors import GroundedError
from rag.settings import GENERATOR_NAMES, POLICIES, Settings, build_settings, default_index_dir


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that say where the help is (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"grounded: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--index", type=Path, help=f"index folder (env GROUNDED_INDEX; default: {default_index_dir()})", default=None
    )
    retrieval = _Parser(add_help=False)
    retrieval.add_argument("-k", "--top-k", type=int, dest="top_k", help="passages the generator sees")
    retrieval.add_argument(
        "--generator",
        metavar="NAME",
        help=f"answer generator: {', '.join(GENERATOR_NAMES)}, a plug-in's entry point name, or package.module:factory"
        " (default: extractive)",
    )
    retrieval.add_argument(
        "--threshold", type=float, dest="abstain_threshold", help="evidence needed to answer (extractive)"
    )
    retrieval.add_argument("--candidates", type=int, help="depth of each retriever's list")
    retrieval.add_argument(
        "--policy",
        choices=POLICIES,
        dest="verify_policy",
        help="unsupported sentences: flag (keep, mark), drop, strict (drop; none left -> extractive answer)",
    )

    p = _Parser(prog="grounded", description="Grounded question answering over your documents.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", parents=[common], help="add or update documents in the index")
    ing.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders (default: demo corpus)")
    ing.add_argument("--prune", action="store_true", help="remove indexed documents whose files are gone")
    ing.add_argument(
        "--rebuild", action="store_true", help="build a fresh index (current model and chunker) and swap it in"
    )
    ing.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ing.add_argument(
        "--multilingual",
        action="store_true",
        default=None,
        help="new or rebuilt index also gets multilingual-e5 vectors (Chinese<->English; ~8x slower ingest)",
    )

    doc = sub.add_parser("doctor", parents=[common], help="check the index is whole (self-recall, ids agree)")
    doc.add_argument("--repair", action="store_true", help="copy the index into a fresh generation if a check fails")

    ask = sub.add_parser("ask", parents=[common, retrieval], help="answer a question with citations")
    ask.add_argument("question", help='the question, or "-" to read one question per line from stdin')
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--explain", action="store_true", help="show each retriever's list, fusion and evidence")
    ask.add_argument("--trace", action="store_true", help="with --json: include the full trace")
    ask.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="QUESTION",
        help="an earlier question of the conversation (repeat, oldest first): the question is read as its follow-up",
    )

    srv = sub.add_parser("serve", parents=[common, retrieval], help="the Gradio chat")
    srv.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    srv.add_argument("--port", type=int, help="port (default 7860; 0 picks a free one)")
    srv.add_argument(
        "--auth",
        action="append",
        metavar="USER:PASSWORD",
        help=(
            "a UI login (repeat for more); API clients may log in with it too. Prefer env GROUNDED_AUTH='u:p,u2:p2' "
            "or --auth-file: a flag's password shows in the process list"
        ),
    )
    srv.add_argument("--auth-file", type=Path, help="file of UI logins, one user:password per line")
    srv.add_argument(
        "--api-token",
        help="bearer token for the HTTP API (prefer env GROUNDED_API_TOKEN: a flag shows in the process list)",
    )
    srv.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="serve a non-loopback --host with no authentication (prints a warning)",
    )

    ev = sub.add_parser("eval", parents=[common, retrieval], help="score the pipeline on a JSONL question set")
    ev.add_argument("file", type=Path, metavar="PATH", help="JSONL question set, or a BEIR folder with --format beir")
    ev.add_argument(
        "--format", choices=["questions", "beir", "squad", "rgb", "crag"], default="questions", help="what PATH holds"
    )
    ev.add_argument("--split", default="test", help="BEIR qrels split (default test; tune on train)")
    ev.add_argument(
        "--policies",
        type=lambda v: [p.strip() for p in v.split(",") if p.strip()],
        help="check each answer under these policies, e.g. flag,drop,strict (one generation per question)",
    )
    ev.add_argument("--sample", type=int, default=500, help="SQuAD: questions in the fixed sample (default 500)")
    ev.add_argument(
        "--part", choices=["test", "calib"], default="test", help="SQuAD: the test sample or the disjoint calib one"
    )
    ev.add_argument("--seed", type=int, default=0, help="SQuAD, RGB: sampling seed (default 0)")
    ev.add_argument("--limit", type=int, help="RGB, CRAG: only the first N questions")
    ev.add_argument(
        "--judge",
        choices=["self", "llm", "local"],
        default="self",
        help="ALCE citation judge: self (our verifier; 'self-judged'), llm (the GROUNDED_OPENAI_* model), "
        "local (the packaged SmolLM2)",
    )
    ev.add_argument("--out", type=Path, help="write per-item results and summary.json here")
    ev.add_argument(
        "--corpus",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="answer from a fresh index of these files/folders (built in OUT/index with --out, else a temp dir) "
        "instead of the usual index",
    )
    ev.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="run the grid of these settings (repeat for more keys), e.g. --sweep top_k=3,5 --sweep verify_policy=flag,drop",
    )

    cmp = sub.add_parser("compare", help="compare eval runs (also `grounded eval compare`)")
    cmp.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN", help="run folders (eval --out); the first is the baseline"
    )
    cmp.add_argument("--out", type=Path, help="write report.html, report.md and plots/ here")
    return p


def _settings(args: argparse.Namespace) -> Settings:
    keys = (
        "index",
        "top_k",
        "generator",
        "abstain_threshold",
        "candidates",
        "verify_policy",
        "multilingual",
        "host",
        "port",
    )
    return build_settings().with_overrides(**{k: getattr(args, k, None) for k in keys})


def _is_default_index(settings: Settings, args: argparse.Namespace) -> bool:
    import os

    return args.index is None and "GROUNDED_INDEX" not in os.environ and settings.index == default_index_dir()


def _pipeline(settings: Settings, args: argparse.Namespace) -> Any:
    """Open the pipeline; on first use of the default index, ingest the demo corpus into it.

    The demo index gets multilingual vectors too (Chinese questions find its English passages), unless
    GROUNDED_MULTILINGUAL says otherwise. Settings are already valid here; the generator's packages are
    checked before anything is written.
    """
    import os

    from rag.generators import check_available
    from rag.index import Index
    from rag.pipeline import Pipeline

    if not Index.exists(settings.index) and _is_default_index(settings, args):
        from ingest.indexer import ingest

        check_available(settings)
        print(f"No index yet: ingesting the demo corpus into {settings.index}", file=sys.stderr)
        demo = settings if "GROUNDED_MULTILINGUAL" in os.environ else settings.with_overrides(multilingual=True)
        report = ingest(None, demo, progress=True)
        print(report.summary(), file=sys.stderr)
    elif _is_default_index(settings, args):
        _upgrade_demo_index(settings)
    return Pipeline.from_settings(settings)


def _upgrade_demo_index(settings: Settings) -> None:
    """Rebuild the default index when it holds only the demo corpus, chunked by an earlier version.

    Its chunks then lack the structure (headings, lists, rejoined lines) answers now use; a user's own
    documents in it are never re-read behind their back (ingest names the rebuild command instead).
    """
    import os

    from ingest.indexer import chunker_config, rebuild
    from rag.errors import IndexMismatchError
    from rag.index import Index
    from rag.settings import demo_corpus_dir

    try:
        index = Index.open(settings.index)
    except IndexMismatchError:
        return  # Pipeline.from_settings reports it, with the fix
    try:
        manifest = index.manifest
        demo = demo_corpus_dir().resolve()
        sources = [Path(s).resolve() for s in manifest.documents]
        current = manifest.chunker == chunker_config(settings).to_dict()
    finally:
        index.close()
    if current or not sources or any(p.parent != demo for p in sources):
        return
    print("The demo index was built by an earlier version: rebuilding it", file=sys.stderr)
    demo = settings if "GROUNDED_MULTILINGUAL" in os.environ else settings.with_overrides(multilingual=True)
    report = rebuild(None, demo, progress=True)
    print(report.summary(), file=sys.stderr)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.indexer import ingest, rebuild

    settings = _settings(args)
    paths = args.paths or None
    if args.rebuild:
        report = rebuild(paths, settings, progress=not args.quiet)
    else:
        report = ingest(paths, settings, prune=args.prune, progress=not args.quiet)
    from ingest.files import printable

    for r in report.results:  # one line each: a newline in a file name prints as \n
        if r.status == "skipped":
            print(f"skipped   {printable(r.path)}: {printable(r.reason)}", file=sys.stderr)
        elif r.status != "unchanged":
            print(f"{r.status:9} {printable(r.path)} ({r.chunks} chunks)")
    print(report.summary())
    return 1 if report.count("skipped") else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from ingest.doctor import doctor

    report, actions = doctor(_settings(args), fix=args.repair)
    for line in actions:
        print(f"repaired: {line}")
    for line in report.lines():
        print(line)
    print("ok" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def _since_process_start_ms() -> float | None:
    """Milliseconds since this process started (Linux: /proc), or None where that can't be read."""
    import os

    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, (uptime - ticks / os.sysconf("SC_CLK_TCK")) * 1000)


def _print_answer(answer: Any, args: argparse.Namespace, startup: dict[str, float] | None = None) -> None:
    if args.json:
        record = answer.to_dict(include_trace=args.trace)
        if startup:
            record["startup_ms"] = startup
        print(json.dumps(record, ensure_ascii=False), flush=True)
        if not args.explain:
            return
    else:
        print(answer.text)
        flagged = [sc for sc in answer.sentences if not sc.supported]
        for sc in flagged:
            print(f"  ⚠ {sc.status}: {sc.text[:100]}")
        if answer.query != answer.question:
            print(f"  (asked as: {answer.query})")
        for c in answer.citations:
            flat = " ".join(c.chunk.text.split())
            print(
                f"\n[{c.n}] {c.chunk.label} (chars {c.chunk.start}–{c.chunk.end})\n    {flat[:300]}"
                f"{'…' if len(flat) > 300 else ''}"
            )
        if answer.abstained:
            print(f"\n({answer.reason})")
    if args.explain:
        from rag.explain import explain

        text = explain(answer)
        if startup:
            text += "\nstartup (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in startup.items())
        print("\n" + text, file=sys.stderr if args.json else sys.stdout)


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.pipeline import check_question

    settings = _settings(args)
    if args.question != "-":
        check_question(args.question)  # fail fast, before loading models
        before = _since_process_start_ms()
        pipeline = _pipeline(settings, args)
        startup = {"python_and_imports": before} if before is not None else {}
        startup.update(pipeline.startup_ms)
        _print_answer(pipeline.ask(args.question, args.history), args, startup)
        return 0
    pipeline = _pipeline(settings, args)
    status = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            _print_answer(pipeline.ask(line, args.history), args)
        except GroundedError as e:  # one bad line does not stop the batch
            print(f"grounded: error: {e}", file=sys.stderr)
            status = 2
        if not args.json:
            print("\n" + "─" * 60)
    return status


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.access import Access, check_exposure
    from ui.app import launch

    settings = _settings(args).with_overrides(
        auth=",".join(args.auth) if args.auth else None,
        auth_file=args.auth_file,
        api_token=args.api_token,
        insecure_no_auth=args.insecure_no_auth,
    )
    access = Access.from_settings(settings)
    check_exposure(settings.host, access, settings.insecure_no_auth)  # before any model loads or index writes
    launch(_pipeline(settings, args), host=settings.host, port=settings.port, access=access)
    return 0


def cmd_eval_beir(args: argparse.Namespace) -> int:
    from eval import beir
    from ingest.indexer import ingest_documents
    from rag.pipeline import Pipeline

    settings = _settings(args)
    data = beir.load_beir(args.file, args.split)
    overrides: dict[str, Any] = {"candidates": args.candidates or max(settings.candidates, 200)}
    if args.index is None:
        overrides["index"] = beir.default_index(data, settings)
    settings = settings.with_overrides(**overrides)
    print(
        f"{data.name}: {len(data.docs)} documents, {len(data.queries)} {args.split} queries; index {settings.index}",
        file=sys.stderr,
    )
    report = ingest_documents(data.docs, settings, progress=True)
    print(report.summary(), file=sys.stderr)
    pipeline = Pipeline.from_settings(settings)

    from eval.run import now_iso, run_record, write_run

    started = now_iso()
    records, summary = beir.evaluate(pipeline, data, _progress)
    print(file=sys.stderr)
    print(beir.format_table(summary))
    if args.out:
        beir.write(args.out, records, summary)
        info = run_record(settings, args.file, "beir", settings.verify_policy, started, extra={"split": args.split})
        write_run(args.out, records, summary, info)
        print(f"wrote {args.out / 'report.html'}, report.md, results.jsonl, summary.json, run.json, queries.jsonl")
    return 0


_BAR: list[Any] = []  # the tqdm bar of the run in progress


def _progress(i: int, n: int) -> None:
    """Advance the stderr progress bar (tqdm) to i of n; a new run (another n, or i going back) starts a new bar."""
    from tqdm import tqdm

    if _BAR and (_BAR[0].total != n or _BAR[0].n > i):
        _BAR.pop().close()
    if not _BAR:
        _BAR.append(tqdm(total=n, unit="q", file=sys.stderr, dynamic_ncols=True, mininterval=0.5))
    _BAR[0].update(i - _BAR[0].n)
    if i >= n:
        _BAR.pop().close()


def _check_policies(policies: list[str] | None) -> None:
    from rag.errors import ConfigError

    bad = [p for p in policies or [] if p not in POLICIES]
    if bad:
        raise ConfigError(f"unknown policy {', '.join(bad)}: --policies takes a comma list of {', '.join(POLICIES)}")


def cmd_eval_squad(args: argparse.Namespace) -> int:
    from eval import squad
    from rag.pipeline import Pipeline

    settings = _settings(args)
    questions = squad.sample_questions(squad.load_squad(args.file), args.sample, args.seed, args.part)
    if args.index is None:
        settings = settings.with_overrides(index=squad.default_index(args.file, questions, settings))
    has = sum(not q.is_impossible for q in questions)
    print(
        f"SQuAD 2.0 {args.part} sample: {len(questions)} questions ({has} HasAns, {len(questions) - has} NoAns), "
        f"index {settings.index}",
        file=sys.stderr,
    )
    pipeline = Pipeline.from_settings(settings)
    from eval.run import now_iso, run_record, write_run

    started = now_iso()
    results = squad.evaluate(
        pipeline, questions, args.policies or [settings.verify_policy], _progress, judge=args.judge
    )
    print(file=sys.stderr)
    print(squad.format_report(results))
    if args.out:
        if len(results) > 1:
            squad.write_reports(args.out, results)  # out/summary.json: {policy: summary}
        extra = {"sample": args.sample, "seed": args.seed, "part": args.part}
        for policy, (records, summary) in results.items():
            out = args.out / policy if len(results) > 1 else args.out
            write_run(out, records, summary, run_record(settings, args.file, "squad", policy, started, extra=extra))
            print(f"wrote {out / 'report.html'}, report.md, results.jsonl, summary.json and run.json")
    return 0


def cmd_eval_bench(args: argparse.Namespace) -> int:
    """RGB or CRAG: per-question corpora, so the pipeline's own index is not read."""
    import importlib
    import time

    from eval.run import now_iso

    settings = _settings(args)
    bench: Any = importlib.import_module(f"eval.{args.format}")
    started, t0 = now_iso(), time.perf_counter()
    records, summary = bench.run_file(args.file, settings, seed=args.seed, limit=args.limit, progress=_progress)
    print(file=sys.stderr)
    print(bench.format_report(summary))
    print(f"({summary['cases']} cases in {time.perf_counter() - t0:.0f} s)")
    if args.out:
        bench.write_run(args.out, records, summary, args.file, settings, started)
        print(f"wrote {args.out / 'results.jsonl'}, summary.json, run.json, report.html and report.md")
    return 0


def _eval_pipeline(
    settings: Settings, args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[Any, dict[str, Any]]:
    """(pipeline, run.json extra) for `eval FILE`: with `--corpus`, over a fresh index of those paths.

    The index goes in `<--out>/index`, else in a temp dir that `stack` removes; without `--corpus`, the
    usual index (`_pipeline`).
    """
    if not getattr(args, "corpus", None):
        return _pipeline(settings, args), {}
    import tempfile

    from ingest.files import printable
    from ingest.indexer import ingest
    from rag.errors import ConfigError
    from rag.generators import check_available
    from rag.pipeline import Pipeline

    if args.index is not None:
        raise ConfigError("--corpus builds its own index (in OUT/index with --out, else a temp dir): leave out --index")
    missing = [p for p in args.corpus if not p.exists()]
    if missing:
        raise ConfigError(f"--corpus: no file or folder at {printable(str(missing[0]))}: check the path")
    if args.out:
        root = args.out / "index"
    else:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="grounded-eval-", ignore_cleanup_errors=True))
        root = Path(tmp) / "index"
    settings = settings.with_overrides(index=root)
    check_available(settings)
    print(f"--corpus: building a fresh index of {', '.join(map(str, args.corpus))} in {root}", file=sys.stderr)
    report = ingest(list(args.corpus), settings, progress=True, fresh=True)
    for r in report.results:
        if r.status == "skipped":
            print(f"skipped   {printable(r.path)}: {printable(r.reason)}", file=sys.stderr)
    print(report.summary(), file=sys.stderr)
    return Pipeline.from_settings(settings), {"corpus": [str(p.resolve()) for p in args.corpus]}


def cmd_eval(args: argparse.Namespace) -> int:
    _check_policies(args.policies)
    if args.corpus and args.format != "questions":
        from rag.errors import ConfigError

        raise ConfigError(f"--corpus is for JSONL question sets: --format {args.format} brings its own documents")
    if args.format == "beir":
        return cmd_eval_beir(args)
    if args.format == "squad":
        return cmd_eval_squad(args)
    if args.format in ("rgb", "crag"):
        return cmd_eval_bench(args)
    if args.sweep:
        return cmd_eval_sweep(args)
    from eval.dataset import load_questions
    from eval.runner import format_summary, run

    settings = _settings(args)
    questions = load_questions(args.file)
    with contextlib.ExitStack() as stack:
        pipeline, extra = _eval_pipeline(settings, args, stack)
        from eval.run import now_iso, run_record, write_run

        started = now_iso()
        results = run(pipeline, questions, _progress, args.policies, judge=args.judge)
        print(file=sys.stderr)
        for policy, (records, summary) in results.items():
            print(f"── {settings.generator}, policy {policy} ──")
            print(format_summary(summary))
            if args.out:
                out = args.out / policy if len(results) > 1 else args.out
                info = run_record(pipeline.settings, args.file, "questions", policy, started, extra=extra)
                write_run(out, records, summary, info)
                print(f"wrote {out / 'report.html'}, report.md, results.jsonl, summary.json and run.json")
    return 0


def cmd_eval_sweep(args: argparse.Namespace) -> int:
    """`eval FILE --sweep KEY=V1,V2 ...`: the grid over a question set, one report."""
    from eval.dataset import load_questions
    from eval.sweep import build_grid, format_sweep, parse_sweep, run_sweep, write_sweep
    from rag.errors import ConfigError

    if args.format != "questions" or args.policies:
        raise ConfigError(
            "--sweep runs a JSONL question set (no --format); sweep policies as --sweep verify_policy=flag,strict"
        )
    settings = _settings(args)
    axes = parse_sweep(args.sweep)
    build_grid(settings, axes)  # bad keys and values fail before any model loads
    questions = load_questions(args.file)
    with contextlib.ExitStack() as stack:
        pipeline, _ = _eval_pipeline(settings, args, stack)
        sweep = run_sweep(pipeline, questions, axes, _progress, judge=args.judge)
    print(file=sys.stderr)
    print(format_sweep(sweep))
    if args.out:
        write_sweep(args.out, sweep)
        print(f"wrote {args.out / 'report.html'}, report.md and a run folder per setting under {args.out / 'settings'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """`compare RUN_A RUN_B ...` (or `eval compare`): deltas, paired tests and flipped verdicts against RUN_A."""
    from eval.compare import compare, format_comparison, load_run, write_comparison

    cmp = compare([load_run(p) for p in args.runs], plots=args.out is not None)
    for w in cmp.warnings:
        print(f"grounded: warning: {w}", file=sys.stderr)
    print(format_comparison(cmp))
    if args.out:
        write_comparison(args.out, cmp)
        print(f"wrote {args.out / 'report.html'} and {args.out / 'report.md'}")
    return 0


COMMANDS = {"ingest": cmd_ingest, "ask": cmd_ask, "serve": cmd_serve, "eval": cmd_eval, "doctor": cmd_doctor}
COMMANDS["compare"] = cmd_compare


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `grounded` console script."""
    import os

    os.environ.update(OFFLINE_ENV)  # the command itself never reaches the network, whatever the environment says
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["eval", "compare"] and not Path("compare").exists():  # `eval` takes a PATH: a file named compare
        argv = argv[1:]
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except GroundedError as e:
        from ingest.files import printable

        print(f"grounded: error: {printable(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `grounded ask … | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
