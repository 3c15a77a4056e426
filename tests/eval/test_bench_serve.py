"""eval/bench_serve.py: the short version of the many-users benchmark against a real `grounded serve`."""

from __future__ import annotations

import os

import pytest

from eval.bench_serve import Call, clean_env, markdown, percentile, rss_mb, run, summarize
from rag.settings import Settings


def test_percentile_interpolates() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)


def test_summarize_counts_errors_and_keeps_their_messages() -> None:
    calls = [
        Call("connect", True, 0.1),  # a session opening is not a request
        Call("chat", True, 1.0),
        Call("ask", True, 3.0),
        Call("ask", False, 0.5, "AppError: boom"),
    ]
    r = summarize(1, 2, 10.0, calls, (500.0, 550.0))
    assert (r.requests, r.errors, r.by_kind) == (3, 1, {"chat": 1, "ask": 2})
    assert (r.p50_s, r.req_per_s, r.error_samples) == (2.0, 0.3, ["AppError: boom"])


def test_rss_counts_this_process() -> None:
    assert rss_mb(os.getpid()) > 10
    assert rss_mb(2**22 + 12345) == 0.0  # no such process


def test_clean_env_drops_grounded_and_gradio_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GROUNDED_INDEX", "/somewhere/else")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "1")
    env = clean_env(tmp_path, {"MALLOC_ARENA_MAX": "2"})
    assert not [k for k in env if k.startswith(("GROUNDED_", "GRADIO_")) and k != "GRADIO_ANALYTICS_ENABLED"]
    assert (env["HOME"], env["MALLOC_ARENA_MAX"]) == (str(tmp_path), "2")


@pytest.mark.slow
def test_short_benchmark_has_no_errors_and_finds_the_upload(demo_index: Settings, tmp_path) -> None:
    """4 sessions × 15 s (chat and /ask, an upload halfway), then a burst of 8: no errors, upload found."""
    report = run(sessions=4, seconds=15, rounds=1, burst_n=8, index=demo_index.index)
    print("\n" + markdown(report))  # latency and memory are measured, never asserted
    r = report["rounds"][0]
    assert r["by_kind"].get("chat", 0) > 0 and r["by_kind"].get("ask", 0) > 0 and r["by_kind"].get("upload") == 1
    assert r["errors"] == 0, f"{r['error_samples']}\n{report['server_log_tail']}"
    assert report["burst"]["errors"] == 0, report["burst"]["error_samples"]
    assert report["upload"]["found"], report["upload"]
