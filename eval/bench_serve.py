"""Many users at once: `grounded serve` under N concurrent gradio_client sessions, round after round.

    python -m eval.bench_serve [--sessions 20] [--seconds 120] [--rounds 3] [--burst 50] [--out DIR]
                               [--index DIR] [--api-token TOKEN] [--server-env NAME=VALUE ...]

1. Copies the demo index (built with `grounded ingest` into a temp folder, or the one given by --index)
   and starts `grounded serve` over the copy on a free 127.0.0.1 port, in a clean environment
   (no GROUNDED_*/GRADIO_* inherited, HOME and the XDG folders in the temp folder).
2. Each round, N sessions (one gradio_client `Client` each: its own Gradio session and state) ask
   questions from eval/data/demo_questions.jsonl for T seconds, alternating the chat (the UI's own
   event, history carried as a browser would) and the `/ask` API. Halfway through the first round one
   more session uploads a document through the Documents tab's Ingest event. Sessions close at the end
   of their round (as a tab does), and the next round brings new ones.
3. After the rounds, a burst of B `/ask` calls at once; then a question about the uploaded document.

Reports per round: requests, errors, req/s, p50/p95 latency, the server's RSS (its process and
children, from /proc/PID/status) at start and end; the burst's errors and total time; whether the
upload is found. Writes bench_serve.json and bench_serve.md to --out (default: the current folder).
Targets: 0 errors, RSS growth under 10% per round from the second round on, the upload found.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval import metrics

QUESTIONS = Path(__file__).resolve().parent / "data" / "demo_questions.jsonl"
GROUNDED = Path(sys.executable).with_name("grounded")
START_TIMEOUT_S = 300  # model loading on a busy 2-core machine
UPLOAD_NAME = "bench_upload_quendel.txt"
UPLOAD_TEXT = (
    "Quendel Station field report.\n\n"
    "The Zorblax reactor at Quendel Station was commissioned by the engineer Marisol Tervane in March 2031. "
    "It produces 42 terawatts of power and is cooled by water from Lake Ostrava. "
    "Tervane led a team of eleven technicians during the commissioning."
)
UPLOAD_QUESTION = "Who commissioned the Zorblax reactor at Quendel Station?"
UPLOAD_ANSWER = "Tervane"


@dataclass(frozen=True)
class Call:
    """One request a session made: which endpoint, whether it worked, how long it took."""

    kind: str  # "chat" | "ask" | "upload" | "burst"
    ok: bool
    seconds: float
    error: str = ""


@dataclass(frozen=True)
class Round:
    """What one round of concurrent sessions measured."""

    round: int
    sessions: int
    seconds: float
    requests: int
    errors: int
    req_per_s: float
    p50_s: float
    p95_s: float
    rss_start_mb: float
    rss_end_mb: float
    by_kind: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


# --- the server ------------------------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without GROUNDED_*/GRADIO_* settings, HOME and XDG folders under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROUNDED_", "GRADIO_"))}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        ANONYMIZED_TELEMETRY="False",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB (VmRSS from /proc; 0 once it has exited)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total_kb, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return round(total_kb / 1024, 1)


def _responds(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(url, timeout=3) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Server:
    """`grounded serve --index INDEX` on a free loopback port; `with Server(...) as s: s.url, s.pid`.
    `host` is the address it binds, `probe` the path answering 200 once it is up, `timeout_s` how long to wait."""

    def __init__(
        self,
        index: Path,
        work: Path,
        env: dict[str, str],
        args: Sequence[str] = (),
        *,
        host: str = "127.0.0.1",
        probe: str = "",
        timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.index, self.work, self.env, self.args = index, work, env, list(args)
        self.host, self.probe, self.timeout_s = host, probe, timeout_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def logs(self, tail: int = 4000) -> str:
        """The end of the server's stdout and stderr."""
        parts = []
        for name in ("serve.stdout", "serve.stderr"):
            p = self.work / name
            parts.append(f"--- {name} ---\n{p.read_text(errors='replace')[-tail:] if p.exists() else ''}")
        return "\n".join(parts)

    def __enter__(self) -> Server:
        cmd = [str(GROUNDED), "serve", "--index", str(self.index), "--host", self.host, "--port", str(self.port)]
        with (self.work / "serve.stdout").open("wb") as out, (self.work / "serve.stderr").open("wb") as err:
            self.proc = subprocess.Popen(
                cmd + self.args, cwd=self.work, env=self.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.timeout_s
        while not _responds(self.url + self.probe):
            if self.proc.poll() is not None:
                raise RuntimeError(f"`grounded serve` exited with {self.proc.returncode} before serving\n{self.logs()}")
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(
                    f"`grounded serve` not answering on {self.url} after {self.timeout_s} s\n{self.logs()}"
                )
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


def build_demo_index(root: Path, env: dict[str, str]) -> None:
    """`grounded ingest --index ROOT` (the demo corpus) in a clean environment."""
    cmd = [str(GROUNDED), "ingest", "--index", str(root)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"building the demo index failed ({done.returncode}):\n{done.stderr[-4000:]}")


# --- the clients -----------------------------------------------------------------------------------
def load_questions(path: Path = QUESTIONS) -> list[str]:
    """The questions of a JSONL question set."""
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]


def connect(url: str, token: str | None) -> Any:
    """A gradio_client session (its own session hash, so its own server-side state)."""
    from gradio_client import Client

    headers = {"Authorization": f"Bearer {token}"} if token else None
    return Client(url, verbose=False, headers=headers, download_files=False, analytics_enabled=False)


def event_index(client: Any, elem_id: str, trigger: str) -> int:
    """The fn_index of the event `trigger` ("click", "submit") on the component with `elem_id`.

    The UI's events are hidden from the API docs (api_visibility="private"), which gradio_client
    refuses to call by default; a browser calls them all the same, so the bench does too.
    """
    config = client.config
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    for i, dep in enumerate(config["dependencies"]):
        if any(t[0] in ids and t[1] == trigger for t in dep.get("targets", [])) and dep.get("backend_fn", True):
            fn = dep.get("id", i)
            client.endpoints[fn].is_valid = True
            return fn
    raise LookupError(f"no {trigger} event on #{elem_id} in the app: has the UI changed? (see ui/app.py)")


def _content_text(message: Any) -> str:
    content = message.get("content", "") if isinstance(message, dict) else message
    if isinstance(content, list):
        return " ".join(str(c.get("text", c) if isinstance(c, dict) else c) for c in content)
    return str(content)


def chat_once(client: Any, fn: int, question: str, chat: list[Any], generator: str) -> list[Any]:
    """One chat turn through the UI's event; the conversation afterwards (an error message raises)."""
    out = client.predict(question, chat, generator, 5, "strict", fn_index=fn)
    new_chat = out[0] if isinstance(out, (list, tuple)) and out and isinstance(out[0], list) else out
    if not isinstance(new_chat, list) or not new_chat:
        raise RuntimeError(f"chat returned no conversation: {str(out)[:200]}")
    last = _content_text(new_chat[-1])
    if "g-error" in last or "g-pending" in last:
        raise RuntimeError(f"chat answered with an error: {last[:200]}")
    return new_chat


def ask_once(client: Any, question: str) -> dict[str, Any]:
    """One `/ask` API call; the answer object."""
    out = client.predict(question, False, [], api_name="/ask")
    if not isinstance(out, dict) or "answer" not in out:
        raise RuntimeError(f"/ask returned {str(out)[:200]}")
    return out


def _timed(kind: str, fn: Callable[[], Any]) -> tuple[Call, Any]:
    t0 = time.perf_counter()
    try:
        value = fn()
    except Exception as e:  # every failure is counted, none stops the run
        return Call(kind, False, time.perf_counter() - t0, f"{type(e).__name__}: {str(e)[:300]}"), None
    return Call(kind, True, time.perf_counter() - t0), value


def session(
    url: str, token: str | None, questions: Sequence[str], deadline: float, seed: int, generator: str
) -> list[Call]:
    """One user until `deadline`: chat turns (with history) and `/ask` calls, alternating."""
    rng = random.Random(seed)
    call, client = _timed("connect", lambda: connect(url, token))
    if client is None:
        return [call]
    calls: list[Call] = []
    try:
        chat_fn = event_index(client, "g-ask", "click")
        chat: list[Any] = []
        turn = rng.randrange(2)
        while time.monotonic() < deadline:
            q = rng.choice(questions)
            if turn % 2 == 0:
                call, new_chat = _timed("chat", lambda: chat_once(client, chat_fn, q, chat, generator))  # noqa: B023
                chat = new_chat if new_chat is not None else chat
            else:
                call, _ = _timed("ask", lambda: ask_once(client, q))  # noqa: B023
            calls.append(call)
            turn += 1
    except LookupError as e:
        calls.append(Call("chat", False, 0.0, str(e)))
    finally:
        client.close()
    return calls


def upload(url: str, token: str | None, path: Path) -> Call:
    """Upload `path` through the Documents tab's Ingest event, as the browser does."""
    from gradio_client import handle_file

    def go() -> Any:
        client = connect(url, token)
        try:
            fn = event_index(client, "g-ingest", "click")
            out = client.predict([handle_file(str(path))], fn_index=fn)
        finally:
            client.close()
        text = json.dumps(out, default=str)
        if "⚠" in text or "added" not in text:
            raise RuntimeError(f"upload not added: {text[:300]}")
        return out

    call, _ = _timed("upload", go)
    return call


def upload_found(url: str, token: str | None, wait_s: float = 120.0) -> dict[str, Any]:
    """Ask about the uploaded document (waiting up to `wait_s` for a background ingest); whether it is cited."""
    client = connect(url, token)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            call, answer = _timed("ask", lambda: ask_once(client, UPLOAD_QUESTION))
            cited = [c.get("source", "") for c in (answer or {}).get("citations", [])]
            found = any(Path(s).stem.startswith(Path(UPLOAD_NAME).stem) for s in cited) and UPLOAD_ANSWER in (
                answer or {}
            ).get("answer", "")
            if found or time.monotonic() > deadline:
                return {
                    "question": UPLOAD_QUESTION,
                    "found": found,
                    "answer": (answer or {}).get("answer", call.error),
                    "cited": [Path(s).name for s in cited],
                }
            time.sleep(3)
    finally:
        client.close()


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation (eval.metrics'); 0 for no values, for the tables."""
    return metrics.percentile(values, q) if values else 0.0


def summarize(n: int, sessions: int, seconds: float, calls: Sequence[Call], rss: tuple[float, float]) -> Round:
    """The round's figures from its calls."""
    work = [c for c in calls if c.kind != "connect" or not c.ok]
    lat = [c.seconds for c in work if c.ok and c.kind in ("chat", "ask")]
    errors = [c for c in work if not c.ok]
    kinds: dict[str, int] = {}
    for c in work:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    return Round(
        round=n,
        sessions=sessions,
        seconds=round(seconds, 1),
        requests=len(work),
        errors=len(errors),
        req_per_s=round(len(work) / seconds, 2) if seconds else 0.0,
        p50_s=round(statistics.median(lat), 2) if lat else 0.0,
        p95_s=round(percentile(lat, 95), 2),
        rss_start_mb=rss[0],
        rss_end_mb=rss[1],
        by_kind=kinds,
        error_samples=sorted({c.error for c in errors})[:5],
    )


def run_round(
    n: int,
    server: Server,
    token: str | None,
    questions: Sequence[str],
    sessions: int,
    seconds: float,
    generator: str,
    upload_path: Path | None = None,
) -> Round:
    """N sessions for `seconds` (and, if given, an upload of `upload_path` halfway through)."""
    rss0 = rss_mb(server.pid)
    t0 = time.monotonic()
    deadline = t0 + seconds
    extra: list[Call] = []
    uploader = None
    if upload_path is not None:

        def later() -> None:
            time.sleep(seconds / 2)
            extra.append(upload(server.url, token, upload_path))

        uploader = threading.Thread(target=later, daemon=True)
        uploader.start()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        futures = [
            pool.submit(session, server.url, token, questions, deadline, n * 1000 + i, generator)
            for i in range(sessions)
        ]
        calls = [c for f in futures for c in f.result()]
    if uploader is not None:
        uploader.join()
    elapsed = time.monotonic() - t0
    return summarize(n, sessions, elapsed, calls + extra, (rss0, rss_mb(server.pid)))


def burst(server: Server, token: str | None, questions: Sequence[str], n: int) -> dict[str, Any]:
    """N `/ask` calls released at the same moment, each from its own session."""
    clients = [connect(server.url, token) for _ in range(n)]
    gate = threading.Barrier(n)

    def one(i: int) -> Call:
        gate.wait()
        call, _ = _timed("burst", lambda: ask_once(clients[i], questions[i % len(questions)]))
        return call

    rss0 = rss_mb(server.pid)
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            calls = list(pool.map(one, range(n)))
    finally:
        for c in clients:
            c.close()
    total = time.monotonic() - t0
    lat = [c.seconds for c in calls if c.ok]
    return {
        "requests": n,
        "errors": sum(not c.ok for c in calls),
        "total_s": round(total, 1),
        "p50_s": round(statistics.median(lat), 2) if lat else 0.0,
        "max_s": round(max(lat), 2) if lat else 0.0,
        "rss_start_mb": rss0,
        "rss_end_mb": rss_mb(server.pid),
        "error_samples": sorted({c.error for c in calls if not c.ok})[:5],
    }


# --- the run ---------------------------------------------------------------------------------------
def run(
    sessions: int = 20,
    seconds: float = 120.0,
    rounds: int = 3,
    burst_n: int = 50,
    index: Path | None = None,
    token: str | None = None,
    server_env: dict[str, str] | None = None,
    generator: str = "extractive",
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> dict[str, Any]:
    """The whole benchmark; the report as a JSON-ready dict."""
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="grounded-bench-serve-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        extra = dict(server_env or {})
        if token:
            extra["GROUNDED_API_TOKEN"] = token
        env = clean_env(home, extra)
        copy = work / "index"
        if index is not None:
            shutil.copytree(index, copy, ignore=shutil.ignore_patterns("*.lock"))
        else:
            log("building the demo index …")
            build_demo_index(copy, clean_env(home))
        doc = work / UPLOAD_NAME
        doc.write_text(UPLOAD_TEXT)
        log(f"starting grounded serve over {copy} …")
        t0 = time.monotonic()
        with Server(copy, work, env) as server:
            started = time.monotonic() - t0
            rss_idle = rss_mb(server.pid)
            log(f"serving on {server.url} (pid {server.pid}, {started:.0f} s to start, RSS {rss_idle} MB)")
            out_rounds = []
            for n in range(1, rounds + 1):
                r = run_round(n, server, token, questions, sessions, seconds, generator, doc if n == 1 else None)
                out_rounds.append(r)
                log(
                    f"round {n}: {r.requests} requests, {r.errors} errors, {r.req_per_s} req/s, "
                    f"p50 {r.p50_s} s, p95 {r.p95_s} s, RSS {r.rss_start_mb} -> {r.rss_end_mb} MB"
                    + (f"; errors e.g. {r.error_samples[0]}" if r.error_samples else "")
                )
            b = burst(server, token, questions, burst_n) if burst_n else None
            if b:
                log(f"burst of {burst_n}: {b['errors']} errors, all done in {b['total_s']} s")
            found = upload_found(server.url, token)
            log(f"uploaded document found: {found['found']} ({found['answer'][:120]!r})")
            rss_final = rss_mb(server.pid)
            server_log = server.logs(2000)
    growth = [
        round(100 * (b2.rss_end_mb - b1.rss_end_mb) / b1.rss_end_mb, 1)
        for b1, b2 in itertools.pairwise(out_rounds)
        if b1.rss_end_mb
    ]
    return {
        "command": command
        or f"python -m eval.bench_serve --sessions {sessions} --seconds {seconds:g} --rounds {rounds} --burst {burst_n}",
        "sessions": sessions,
        "seconds": seconds,
        "generator": generator,
        "server_env": {k: v for k, v in (server_env or {}).items()},
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "server_start_s": round(started, 1),
        "rss_idle_mb": rss_idle,
        "rss_final_mb": rss_final,
        "rounds": [asdict(r) for r in out_rounds],
        "rss_growth_pct_per_round": growth,
        "burst": b,
        "upload": found,
        "errors": sum(r.errors for r in out_rounds) + (b["errors"] if b else 0),
        "server_log_tail": server_log,
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        f"`{report['command']}` — {report['sessions']} sessions × {report['seconds']:g} s per round, "
        f"generator {report['generator']}, load average {report['load_average'][0]:.2f} on {report['cpus']} CPUs",
        "",
        "| round | requests | errors | req/s | p50 s | p95 s | RSS start MB | RSS end MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rounds"]:
        lines.append(
            f"| {r['round']} | {r['requests']} | {r['errors']} | {r['req_per_s']} | {r['p50_s']} | {r['p95_s']} "
            f"| {r['rss_start_mb']} | {r['rss_end_mb']} |"
        )
    b = report["burst"]
    if b:
        lines.append(
            f"| burst of {b['requests']} | {b['requests']} | {b['errors']} | {b['requests'] / b['total_s']:.2f} "
            f"| {b['p50_s']} | max {b['max_s']} | {b['rss_start_mb']} | {b['rss_end_mb']} |"
        )
    lines += [
        "",
        f"Idle RSS {report['rss_idle_mb']} MB; growth per round (end to end) {report['rss_growth_pct_per_round']} %. "
        f"Burst: all {b['requests'] if b else 0} done in {b['total_s'] if b else 0} s. "
        f"Uploaded document found: {'yes' if report['upload']['found'] else 'NO'}.",
    ]
    return "\n".join(lines) + "\n"


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20, help="concurrent sessions per round (default 20)")
    p.add_argument("--seconds", type=float, default=120.0, help="length of each round (default 120)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--burst", type=int, default=50, help="/ask calls released at once after the rounds (0: none)")
    p.add_argument("--index", type=Path, help="index to copy (default: build one of the demo corpus)")
    p.add_argument("--generator", default="extractive", help="generator the chat asks for (default extractive)")
    p.add_argument(
        "--api-token",
        default=os.environ.get("GROUNDED_API_TOKEN"),
        help="bearer token: given to the server as GROUNDED_API_TOKEN and sent by every client",
    )
    p.add_argument(
        "--server-env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server (e.g. MALLOC_ARENA_MAX=2)",
    )
    p.add_argument("--out", type=Path, default=Path("."), help="folder for bench_serve.json and bench_serve.md")
    args = p.parse_args(argv)
    if args.index is not None and not (args.index / "manifest.json").exists():
        p.error(f"{args.index} is not an index: build one with `grounded ingest --index {args.index}`")
    report = run(
        args.sessions,
        args.seconds,
        args.rounds,
        args.burst,
        args.index,
        args.api_token,
        dict(args.server_env),
        args.generator,
        command="python -m eval.bench_serve " + " ".join(argv if argv is not None else sys.argv[1:]),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_serve.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    table = markdown(report)
    (args.out / "bench_serve.md").write_text(table)
    print(table)
    return 0 if report["errors"] == 0 and report["upload"]["found"] else 1


if __name__ == "__main__":
    sys.exit(main())
