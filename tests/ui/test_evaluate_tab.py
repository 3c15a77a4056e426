"""The Evaluate tab in a real browser: `grounded serve` (fixtures in conftest.py) driven through Debian's Chromium.

A 5-question run of the bundled demo set end to end (progress bar, plots, table, a row's glass box), and a
comparison of two runs (flipped questions or the no-flips line) and of runs over different sets (refused).
Runs use the extractive generator (the server's default); they are kept under the served index copy's runs/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_BROWSER
from tests.ui.conftest import REPO, shot

if not REQUIRE_BROWSER:  # under `make test` and in CI a missing playwright is an error, not a skip
    pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT = 240_000  # ms: 5 extractive answers take seconds, but CI machines are shared and slow

# Records every progress text the tab's status trackers show ("question 2 of 5 … 2/5 questions").
WATCH_PROGRESS_JS = """
() => {
  window.__gProgress = [];
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('#g-evaluate [data-testid="status-tracker"]')) {
      const text = el.innerText.replace(/\\s+/g, ' ').trim();
      if (/\\d+\\/\\d+/.test(text) && !window.__gProgress.includes(text)) window.__gProgress.push(text);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def open_tab(page: Page, url: str) -> None:
    page.goto(url, wait_until="load")  # not networkidle: Gradio keeps connections open
    page.get_by_role("tab", name="Evaluate").click()
    expect(page.locator("#g-eval-run")).to_be_visible(timeout=60_000)


def choose(page: Page, elem_id: str, label: str) -> None:
    """Pick the option whose text contains `label` in the dropdown `elem_id`."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option").filter(has_text=label).first.click()


def start_run(page: Page, question_set: str, policy: str, top_k: int, limit: int) -> str:
    """Fill in the form, run, wait for the run's summary; the new run's folder name."""
    shown = page.locator("#g-eval-status .g-eval-summary")
    before = shown.get_attribute("data-run") if shown.count() else None
    choose(page, "g-eval-set", question_set)
    page.locator("#g-eval-policy").get_by_label(policy, exact=True).check()
    slider = page.locator("#g-eval-topk input[type=number]")  # the top-k slider's number box
    slider.fill(str(top_k))
    slider.press("Enter")
    page.locator("#g-eval-limit input").fill(str(limit))
    page.locator("#g-eval-run").click()
    summary = page.locator("#g-eval-status .g-eval-summary")
    if before:
        expect(summary).not_to_have_attribute("data-run", before, timeout=RUN_TIMEOUT)
    expect(summary).to_be_visible(timeout=RUN_TIMEOUT)
    name = summary.get_attribute("data-run") or ""
    assert re.fullmatch(r"\d{8}-\d{6}-[\w-]+", name), name
    return name


def test_a_five_question_run_shows_progress_plots_table_and_a_rows_glass_box(served_app: str, page: Page) -> None:
    open_tab(page, served_app)
    page.evaluate(WATCH_PROGRESS_JS)
    started = time.monotonic()
    name = start_run(page, "demo_questions.jsonl", "flag", 5, 5)
    print(f"5-question run in the browser: {time.monotonic() - started:.1f} s")
    assert name.endswith("-demo_questions")

    seen = page.evaluate("window.__gProgress")
    counts = {m.group(0) for text in seen for m in re.finditer(r"\b\d/5\b", text)}
    assert counts & {"1/5", "2/5", "3/5", "4/5"}, seen  # the bar moved question by question
    expect(page.locator("#g-eval-status")).to_contain_text("5 questions · generator extractive, policy flag, top-k 5")

    plots = page.locator("#g-eval-plots figure.g-eval-figure")
    for plot in ("metrics", "risk_coverage", "latency"):
        img = page.locator(f'#g-eval-plots figure[data-plot="{plot}"] img')
        expect(img).to_be_visible()
        assert img.evaluate("i => i.complete && i.naturalWidth > 100"), f"the {plot} plot did not load"
    assert plots.count() >= 3

    table = page.locator("#g-eval-table")
    expect(table.locator("th").filter(has_text="verdict").first).to_be_visible()
    rows = table.locator(".virtual-row[role=row]")  # Gradio's virtual table: one div per shown row
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("a01")
    expect(rows.first).to_contain_text("Zheng Nanning")
    expect(table).to_contain_text(re.compile(r"right|wrong"))

    # a row's glass box, from the stored trace
    question = table.locator('[data-testid="cell-1-1"]')  # row 2, column "question"
    question_text = " ".join(question.inner_text().split())
    question.click()
    glass = page.locator("#g-eval-glass")
    expect(glass.locator(".g-eval-question")).to_have_attribute("data-id", "a02", timeout=30_000)
    expect(glass.locator(".g-glass-title")).to_have_text("How this answer was made")
    expect(glass.locator("#g-step-retrieval")).to_be_visible()
    expect(glass.locator("#g-step-timings")).to_be_visible()
    expect(glass.locator(".g-eval-question")).to_contain_text(question_text[:40])
    assert "/index/" not in glass.inner_html()  # document names, never server paths

    # the run is listed among the past runs, and reopening it shows it again
    page.locator("#g-eval-runs input").click()
    expect(page.get_by_role("option").filter(has_text=name)).to_have_count(1)
    page.keyboard.press("Escape")
    page.locator("#g-eval-plots").scroll_into_view_if_needed()
    shot(page, "evaluate_run.png")


def test_two_runs_compare_with_flipped_questions_and_different_sets_are_refused(served_app: str, page: Page) -> None:
    open_tab(page, served_app)
    a = start_run(page, "demo_questions.jsonl", "flag", 5, 5)
    b = start_run(page, "demo_questions.jsonl", "strict", 1, 5)
    other = start_run(page, "crosslingual_questions.jsonl", "flag", 5, 2)

    page.get_by_role("tab", name="Chat").click()  # coming back to the tab refreshes the lists
    page.get_by_role("tab", name="Evaluate").click()
    choose(page, "g-eval-a", a)
    choose(page, "g-eval-b", b)
    page.locator("#g-eval-compare").click()
    result = page.locator("#g-eval-comparison .g-eval-compare")
    expect(result).to_be_visible(timeout=60_000)
    expect(result).to_contain_text(f"A = {a} (baseline), B = {b}")
    expect(result.locator(".g-eval-warning")).to_contain_text("top_k (5 → 1)")  # the settings that differ
    expect(result.locator("table.g-eval-metrics")).to_contain_text("answer_accuracy")
    flips = result.locator("table.g-eval-flips tbody tr")
    no_flips = result.locator(".g-eval-no-flips")
    expect(flips.or_(no_flips).first).to_be_visible()
    if flips.count():
        expect(result.locator("h4")).to_have_text(f"Flipped verdicts ({flips.count()})")
        expect(flips.first).to_contain_text(re.compile("✓.*✗|✗.*✓"))
    else:
        expect(no_flips).to_have_text("No question changed verdict between A and B.")
    print(f"flipped between top-k 5/flag and top-k 1/strict: {flips.count()}")
    shot(page, "evaluate_compare.png")

    choose(page, "g-eval-b", other)
    page.locator("#g-eval-compare").click()
    error = page.locator("#g-eval-comparison .g-eval-error")
    expect(error).to_contain_text("different datasets", timeout=60_000)
    expect(error).to_contain_text("compare runs of the same question file")
    expect(error).not_to_contain_text("/runs/")  # run names, not server folders


def test_an_uploaded_question_set_is_checked_then_run(served_app: str, page: Page, tmp_path: Path) -> None:
    open_tab(page, served_app)
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"id": "x1", "question": "Who?"}\n', encoding="utf-8")
    page.locator("#g-eval-upload input[type=file]").set_input_files(str(bad))
    note = page.locator("#g-eval-upload-note")
    expect(note.locator(".g-eval-error")).to_contain_text("broken.jsonl:1: missing answerable, answers, sources")
    expect(note).to_contain_text("each row needs id, question, answerable, answers, sources")  # the fix
    assert str(tmp_path) not in note.inner_text() and "\n" not in note.inner_text().strip()

    page.locator("#g-eval-upload button[aria-label='Clear']").click()
    expect(note.locator(".g-eval-error")).to_have_count(0)
    good = tmp_path / "mine.jsonl"
    demo = (REPO / "eval" / "data" / "demo_questions.jsonl").read_text(encoding="utf-8").splitlines()
    good.write_text("\n".join(demo[:2]) + "\n", encoding="utf-8")
    page.locator("#g-eval-upload input[type=file]").set_input_files(str(good))
    expect(note).to_contain_text("✓ 2 questions in mine.jsonl")
    expect(page.locator("#g-eval-set input")).to_have_value("uploaded: mine.jsonl")
    name = start_run(page, "uploaded: mine.jsonl", "flag", 5, 0)
    assert name.endswith("-mine")
    expect(page.locator("#g-eval-status")).to_contain_text("2 questions")
    expect(page.locator("#g-eval-table .virtual-row[role=row]")).to_have_count(2)
