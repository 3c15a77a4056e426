from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from eval.report import (
    beir_curves,
    make_plots,
    metric_rows,
    question_row,
    render_html,
    risk_coverage_data,
    stage_timings,
    trace_view,
    type_breakdown,
    write_report,
)
from eval.run import now_iso, run_record, write_run
from tests.eval.test_run import short_set

PNG = b"\x89PNG\r\n\x1a\n"
URL_ATTRS = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background"}


class _Resources(HTMLParser):
    """Every URL the page would load: URL attributes of real tags, and url(...)/@import in <style> and style=."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in URL_ATTRS and value:
                self.urls.append(value.strip())
            if name == "style" and value:
                self.handle_css(value)
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.urls.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.handle_css(data)

    def handle_css(self, css: str) -> None:
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", css) + (["@import"] if "@import" in css else [])


def external_resources(html: str) -> list[str]:
    """The resources of `html` that are not embedded (anything but data: URIs and in-page #anchors)."""
    parser = _Resources()
    parser.feed(html)
    return [u for u in parser.urls if not u.startswith(("data:", "#"))]


def record(i: int, *, answerable: bool = True, abstained: bool = False, correct: bool = True, **extra: Any) -> dict:
    return {
        "id": f"q{i}",
        "question": f"question {i}?",
        "answerable": answerable,
        "gold": ["gold"] if answerable else [],
        "answer": "I don't know" if abstained else f"answer {i} [1]",
        "abstained": abstained,
        "correct": correct,
        "score": extra.pop("score", 0.1 * i),
        "timings": {"dense": 5.0 + i, "generate": 100.0 + 10 * i, "verify": 20.0, "total": 130.0 + 10 * i},
        **extra,
    }


RUN = {"format": "questions", "policy": "strict", "settings": {"abstain_threshold": 0.35, "generator": "extractive"}}
SUMMARY = {
    "questions": 6,
    "answer_accuracy": 0.75,
    "latency_ms_p50": 150.0,
    "intervals": {"answer_accuracy": [0.3, 0.95]},
}


def records6() -> list[dict]:
    return [
        record(1, correct=False, abstained=True, type="who", correct_if_answered=True),
        record(2, type="who"),
        record(3, type="when", correct=False, correct_if_answered=False),
        record(4, type="when"),
        record(5, answerable=False, abstained=True, correct=True, type="off-topic"),
        record(6, answerable=False, abstained=False, correct=False, type="off-topic"),
    ]


# --- pure parts -------------------------------------------------------------------------------------
def test_metric_rows_flatten_nested_summaries_with_intervals() -> None:
    rows = {
        m.name: m
        for m in metric_rows(
            {
                "HasAns": {"f1": 0.6, "count": 10},
                "questions": 20,
                "judge": "self",
                "intervals": {"HasAns.f1": [0.5, 0.7]},
                "settings": {"top_k": 5},
            }
        )
    }
    assert set(rows) == {"HasAns.f1", "HasAns.count", "questions"}
    assert (rows["HasAns.f1"].low, rows["HasAns.f1"].high, rows["HasAns.f1"].rate) == (0.5, 0.7, True)
    assert rows["questions"].rate is False and rows["questions"].low is None


def test_risk_coverage_counts_answered_unanswerable_as_wrong() -> None:
    points, n = risk_coverage_data(records6())
    assert n == 6
    # scores 0.6 (unanswerable, answered: wrong), 0.5 (unanswerable: wrong), 0.4, 0.3 (wrong), 0.2, 0.1 (would be right)
    assert [round(c, 3) for _, c, _ in points] == [0.167, 0.333, 0.5, 0.667, 0.833, 1.0]
    assert [round(a, 3) for _, _, a in points] == [0.0, 0.0, 0.333, 0.25, 0.4, 0.5]


def test_type_breakdown_and_stage_timings() -> None:
    rows = {b["type"]: b for b in type_breakdown(records6())}
    assert set(rows) == {"who", "when", "off-topic"}
    assert rows["who"]["n"] == 2 and rows["who"]["correct"] == 0.5 and rows["who"]["abstained"] == 0.5
    assert rows["off-topic"]["low"] < 0.5 < rows["off-topic"]["high"]
    assert type_breakdown([record(1)]) == []  # no types, no breakdown
    stages = stage_timings(records6())
    assert list(stages) == ["dense", "generate", "verify", "total"]  # pipeline order
    assert stages["generate"] == [110.0, 120.0, 130.0, 140.0, 150.0, 160.0]


def test_question_rows_say_the_verdict() -> None:
    r = records6()
    assert question_row(r[1], "questions")["verdict"] == "right"
    assert question_row(r[0], "questions")["verdict"] == "wrong: abstained"
    assert question_row(r[4], "questions")["verdict"] == "right: abstained"
    assert question_row(r[5], "questions")["verdict"].startswith("wrong: answered an unanswerable")
    assert question_row(r[4], "questions")["expected"].startswith("(unanswerable")
    squad = {"id": "s", "question": "q", "gold": ["a", "b"], "answer": "a", "f1": 0.8, "abstained": False}
    assert question_row(squad, "squad")["verdict"] == "answered, F1 0.80" and question_row(squad, "squad")["ok"]
    beir = {
        "query_id": "7",
        "query": "q",
        "relevant": {"d1": 1, "d2": 0},
        "pipeline": {"top10": ["d1"], "ndcg@10": 1.0},
    }
    assert question_row(beir, "beir") == {
        "id": "7",
        "question": "q",
        "expected": "d1",
        "answer": "d1",
        "verdict": "nDCG@10 1.00",
        "ok": True,
    }


def test_beir_curves_over_k() -> None:
    recs = [
        {"relevant": {"a": 1, "b": 1}, "dense": {"top10": ["x", "a", "b"]}, "pipeline": {"top10": ["a", "b"]}},
        {"relevant": {"c": 1}, "dense": {"top10": ["c"]}, "pipeline": {"top10": ["y", "c"]}},
    ]
    curves = beir_curves(recs, ks=(1, 2, 3))
    assert set(curves) == {"dense", "pipeline"}
    assert curves["dense"]["recall"] == [0.5, 0.75, 1.0]
    assert curves["pipeline"]["recall"] == [0.25, 1.0, 1.0]
    # nDCG@1: (1 + 0) / 2; nDCG@2: (1 + 1/log2(3)) / 2 (the second query's hit is at rank 2)
    assert curves["pipeline"]["ndcg"][:2] == pytest.approx([0.5, (1 + 1 / math.log2(3)) / 2])


def test_trace_view_keeps_lists_candidates_and_checks() -> None:
    trace = {
        "question": "q",
        "query": "q?",
        "rewrite": {},
        "cutoff": 2,
        "generator": "extractive",
        "lists": [{"name": "dense", "detail": "", "hits": [{"rank": i, "score": 1 / i} for i in range(1, 20)]}],
        "fused": {"name": "fused", "detail": "rrf", "hits": [{"rank": 1, "score": 0.03}]},
        "generation": {
            "evidence": 0.5,
            "threshold": 0.39,
            "decision": "answer",
            "kind": "extractive",
            "candidates": [{"text": f"c{i}", "score": 0.5} for i in range(9)],
            "expected_answer_type": "who",
        },
        "verification": {"policy": "strict", "kept": 1},
    }
    view = trace_view({"trace": trace, "sentences": [{"text": "s", "status": "supported"}]})
    assert [lst["name"] for lst in view["lists"]] == ["dense", "fused"]
    assert len(view["lists"][0]["hits"]) == 8 and len(view["candidates"]) == 5
    assert view["decision"] == "answer" and view["evidence"] == 0.5 and view["lists"][1]["fused"]
    assert '"expected_answer_type": "who"' in view["generation_other"] and '"kept": 1' in view["verification"]
    assert trace_view({})["has_trace"] is False


def test_html_is_escaped_and_self_contained(tmp_path: Path) -> None:
    recs = records6()
    recs[0]["question"] = '<script>alert("x")</script> & <img src=http://evil.example/x.png>'
    recs[1]["answer"] = "see https://example.org/page (a text link in the data)"
    html = render_html(recs, SUMMARY, RUN)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "<img src=http://evil" not in html
    assert external_resources(html) == []
    assert external_resources('<p style="background: url(http://x/y.png)"><img src="https://x/z"></p>') == [
        "http://x/y.png",
        "https://x/z",
    ]  # the checker sees what it must
    assert "https://example.org/page" in html  # as text
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(imgs) == len(make_plots(recs, SUMMARY, RUN)) >= 4
    assert all(base64.b64decode(b)[:8] == PNG for b in imgs)


def test_write_report_for_a_beir_run(tmp_path: Path) -> None:
    recs = [
        {
            "query_id": str(i),
            "query": f"q{i}",
            "relevant": {"a": 1},
            "dense": {"top10": ["a", "b"], "ndcg@10": 1.0, "recall@10": 1.0},
            "bm25": {"top10": ["b", "a"], "ndcg@10": 0.63, "recall@10": 1.0},
            "pipeline": {"top10": ["a"], "ndcg@10": 1.0, "recall@10": 1.0},
        }
        for i in range(3)
    ]
    summary = {
        "dense": {"ndcg@10": 1.0},
        "bm25": {"ndcg@10": 0.63},
        "pipeline": {"ndcg@10": 1.0, "queries": 3},
        "intervals": {"pipeline.ndcg@10": [1.0, 1.0]},
    }
    paths = write_report(tmp_path, recs, summary, {"format": "beir", "settings": {}})
    assert (tmp_path / "plots" / "beir_at_k.png").read_bytes()[:8] == PNG
    assert {p.name for p in paths} >= {"report.html", "report.md", "beir_at_k.png", "metrics.png"}
    html = (tmp_path / "report.html").read_text()
    assert "nDCG@10 0.63" not in html and "nDCG@10 1.00" in html  # the pipeline list's verdict
    assert "pipeline.ndcg@10" in (tmp_path / "report.md").read_text()


# --- a real run, opened offline in Chromium ---------------------------------------------------------------
@pytest.fixture(scope="module")
def real_run(pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of 6 typed demo questions answered by the real pipeline."""
    from eval.dataset import load_questions
    from eval.runner import run

    tmp = tmp_path_factory.mktemp("report")
    data = short_set(tmp)
    started = now_iso()
    policy = pipeline.settings.verify_policy
    records, summary = run(pipeline, load_questions(data))[policy]
    out = tmp / "run"
    write_run(out, records, summary, run_record(pipeline.settings, data, "questions", policy, started))
    return out


@pytest.fixture
def offline_page(request: pytest.FixtureRequest) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page (Debian's /usr/bin/chromium) whose every non-file, non-data request is blocked and logged."""
    from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, _unavailable

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed in this environment")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found: apt-get install chromium (never `playwright install`)")
    blocked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, offline=True)
            context.set_default_timeout(30_000)

            def route(r: Any) -> None:
                if r.request.url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            yield context.new_page(), blocked
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_report_opens_offline_in_chromium_with_the_plots(real_run: Path, offline_page) -> None:
    from tests.ui.conftest import shot

    page, blocked = offline_page
    html = (real_run / "report.html").read_text(encoding="utf-8")
    assert external_resources(html) == []
    page.goto((real_run / "report.html").as_uri(), wait_until="load")
    assert page.locator("h1").inner_text().startswith("grounded eval")
    assert page.locator("table.metrics").get_by_text("answer_accuracy", exact=True).is_visible()
    for name in ("metrics", "risk_coverage", "latency", "types"):
        img = page.locator(f'img[data-plot="{name}"]')
        assert img.count() == 1, name
        src = img.get_attribute("src")
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG
        width = img.evaluate("e => e.complete && e.naturalWidth")
        assert width and width > 200, (name, width)  # decoded and drawn by the browser
    rows = page.locator("table.questions > tbody > tr:not(.trace-row)")
    assert rows.count() == 7  # header + 6 questions
    first = page.locator("table.questions details").first
    assert not first.locator(".trace").is_visible()
    first.locator("summary").first.click()
    assert first.locator(".trace").is_visible()
    assert "evidence" in first.locator(".trace").inner_text()
    assert blocked == []  # nothing left the page
    shot(page, "eval_report_offline")
    info = json.loads((real_run / "run.json").read_text())
    assert info["format"] == "questions"
