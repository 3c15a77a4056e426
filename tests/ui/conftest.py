"""Real-browser fixtures: `grounded serve` as a subprocess, Debian's Chromium driven by Playwright.

    served_app  -> str             base URL of a running chat over a private copy of the demo index (session)
    serve_app   -> (name) -> str   start another server over its own fresh copy of the demo index (tests that
                                   change the index, e.g. uploads, use one so the shared server is unaffected)
    upload_app  -> str             one such server for the upload tests (session)
    page        -> playwright Page a fresh context and page per test; screenshot saved when the test ends
    shot(page, name, full_page=True) -> Path   save a named screenshot under test-artifacts/screenshots/

Chromium is the Debian package (/usr/bin/chromium; `.ci/run` installs it), never a downloaded
browser. Without it (or without playwright) the browser tests are skipped locally and fail under `make test` and in CI.
Gradio keeps connections open, so pages wait for `load` and then for elements, never `networkidle`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from eval.bench_serve import Server
from eval.bench_serve import clean_env as server_clean_env
from rag.settings import Settings
from tests.conftest import REQUIRE_BROWSER

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
GROUNDED = Path(sys.executable).with_name("grounded")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-proxy-server",  # the app is on loopback; never route through an inherited proxy
]
SERVER_TIMEOUT_S = 240  # model loading on a busy 2-core CI machine
CONSOLE = pytest.StashKey[list[str]]()  # the page's console messages, for the failure report


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot (the whole page, or just the viewport) as test-artifacts/screenshots/<name>(.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", name).strip("_") or "screenshot"
    path = SCREENSHOTS / (safe if safe.endswith(".png") else f"{safe}.png")
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; in CI a missing browser is a failure, not a silent skip."""
    if REQUIRE_BROWSER:
        pytest.fail(
            f"{reason} (CI or GROUNDED_REQUIRE_BROWSER is set, so this is an error; `make test` installs it)",
            pytrace=False,
        )
    pytest.skip(reason)


@contextlib.contextmanager
def _serving(
    source_index: Path,
    work: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    probe: str = "",
) -> Iterator[str]:
    """`grounded serve` on a free loopback port over a copy of `source_index` (made in `work`); yields the URL.
    `args` are extra flags, `env` extra variables (e.g. GROUNDED_AUTH); `probe` is the path answering 200 once up."""
    index = work / "index"
    shutil.copytree(source_index, index)  # the server never touches the shared session index
    server_env = server_clean_env(Path(os.environ["HOME"]), dict(env or {}))
    server = Server(index, work, server_env, args, host=host, probe=probe, timeout_s=SERVER_TIMEOUT_S)
    try:
        server.__enter__()
    except RuntimeError as e:  # it exited, or never answered: the message carries its logs
        pytest.fail(str(e), pytrace=False)
    try:
        yield server.url
    finally:
        server.__exit__()


@pytest.fixture(scope="session")
def serve_app(demo_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """A factory: `serve_app(name)` starts `grounded serve` over its own fresh copy of the demo index and
    returns the base URL; every server it started is stopped at the end of the session."""
    with contextlib.ExitStack() as stack:

        def start(name: str) -> str:
            return stack.enter_context(_serving(demo_index.index, tmp_path_factory.mktemp(name)))

        yield start


@pytest.fixture(scope="session")
def served_app(serve_app: Callable[[str], str]) -> str:
    """`grounded serve` on a free loopback port over a copy of the demo index; the base URL.
    Shared by the tests that leave the index as it is."""
    return serve_app("served_app")


@pytest.fixture(scope="session")
def upload_app(serve_app: Callable[[str], str]) -> str:
    """A second server over its own copy of the demo index, for the tests that upload documents into it
    (they add distinct files and ask about their own, so they tolerate each other)."""
    return serve_app("upload_app")


@pytest.fixture(scope="session")
def _browser() -> Iterator[Any]:
    """One headless Debian Chromium per session (tests get their own context and page)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed in this environment")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found: apt-get install chromium (never `playwright install`)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """On a failing browser test: screenshot now (the page is still open) and put it, and the console, in the report."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if page is not None and report.failed and report.when in ("setup", "call"):
        try:
            report.sections.append(("screenshot", str(shot(page, item.name))))
        except Exception as e:  # a dead page must not hide the real failure
            report.sections.append(("screenshot", f"not saved: {e}"))
        console = item.stash.get(CONSOLE, [])
        if console:
            report.sections.append(("browser console", "\n".join(console[-50:])))
    return report


@pytest.fixture
def page(_browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new page (own context, en-US, 1280x900) per test; a screenshot <test name>.png is saved at the end."""
    context = _browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    console = request.node.stash[CONSOLE] = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    try:
        yield pg
    finally:
        try:
            shot(pg, request.node.name)
        finally:
            context.close()
