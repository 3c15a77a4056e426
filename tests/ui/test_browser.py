"""The app in a real browser: `grounded serve` driven through Debian's Chromium (fixtures in conftest.py).

Every test saves screenshots under test-artifacts/screenshots/; `chat.png` and `glass_box.png` are the
README's (copied to docs/screenshots/). Answers use the extractive generator (the server's default),
except the with/without-retrieval comparison, which is what the packaged LLM is for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import REQUIRE_BROWSER
from tests.ui.conftest import shot

if not REQUIRE_BROWSER:  # under `make test` and in CI a missing playwright is an error, not a skip
    pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.sync_api import Locator, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LECTURE = "Who gave the lecture at the Politburo study session on AI?"
ADVANTAGES = "What are the four advantages Xi said China has for developing AI?"
HELD = "When was the Politburo study session on AI held?"
ANSWER_TIMEOUT = 180_000  # ms: an answer takes seconds, but CI machines are shared and slow

# Records, in order, what the chat showed: a pending or streaming bubble, then a final answer with a chip.
WATCH_CHAT_JS = """
() => {
  window.__gSeen = [];
  const note = (what) => { if (!window.__gSeen.includes(what)) window.__gSeen.push(what); };
  new MutationObserver(() => {
    const chat = document.querySelector('#g-chat');
    if (!chat) return;
    if (chat.querySelector('.g-pending')) note('pending');
    if (chat.querySelector('.g-streaming')) note('streaming');
    if (chat.querySelector('[data-testid="bot"] .g-answer')) note('answer');
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def flat(text: str) -> str:
    return " ".join(text.split())


def open_app(page: Page, url: str) -> None:
    page.goto(url, wait_until="load")  # not networkidle: Gradio keeps connections open
    expect(question_box(page)).to_be_visible(timeout=60_000)


def question_box(page: Page) -> Locator:
    return page.get_by_placeholder("Ask a question about the documents…")


def bot_messages(page: Page) -> Locator:
    return page.locator('#g-chat [data-testid="bot"]')


def ask(page: Page, question: str, press_enter: bool = False) -> Locator:
    """Ask in the Chat tab and wait for the final answer (a `.g-answer` in a new bot message); return it."""
    before = bot_messages(page).count()
    box = question_box(page)
    box.fill(question)
    if press_enter:
        box.press("Enter")
    else:
        page.locator("#g-ask").click()
    answer = bot_messages(page).nth(before)
    expect(answer.locator(".g-answer")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.locator("#g-chat .g-pending, #g-chat .g-streaming")).to_have_count(0, timeout=ANSWER_TIMEOUT)
    return answer


def api_answer(url: str, question: str, include_trace: bool = False) -> dict[str, Any]:
    """The same server's `/ask` endpoint: the answer's JSON object, to check what the page shows."""
    from gradio_client import Client

    return Client(url, verbose=False).predict(question, include_trace, [], api_name="/ask")


def upload(page: Page, path: Path) -> None:
    """Upload `path` in the Documents tab, press Ingest, and wait for its per-file result."""
    page.get_by_role("tab", name="Documents").click()
    page.locator("#g-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#g-upload")).to_contain_text(path.stem, timeout=60_000)  # uploaded, listed
    page.locator("#g-ingest").click()
    results = page.locator(".block").filter(has_text="Per-file result").filter(has=page.locator("table"))
    expect(results).to_contain_text(path.name, timeout=ANSWER_TIMEOUT)


def test_cited_answer_streams_in_and_a_chip_opens_its_source(served_app: str, page: Page) -> None:
    off_host: list[str] = []
    page.on(
        "request", lambda r: off_host.append(r.url) if urlsplit(r.url).hostname not in ("127.0.0.1", None) else None
    )
    open_app(page, served_app)
    page.evaluate(WATCH_CHAT_JS)

    first = ask(page, ADVANTAGES)
    seen = page.evaluate("window.__gSeen")
    assert seen and seen[0] in ("pending", "streaming") and "answer" in seen, seen  # a bubble, then the answer
    expect(page.locator('#g-chat [data-testid="user"]').first).to_contain_text(ADVANTAGES)
    expect(first.locator("a.g-chip").first).to_be_visible()
    expect(first).to_contain_text("data resources")

    second = ask(page, LECTURE, press_enter=True)
    expect(second).to_contain_text("Zheng Nanning")
    source = page.locator("#g-source")
    expect(source.locator("mark.g-mark")).to_contain_text("Zheng Nanning")  # the newest answer's first citation

    # a chip of the *first* answer opens that answer's passage in the source panel
    data = api_answer(served_app, ADVANTAGES)
    chip = first.locator("a.g-chip").first
    n = int(chip.get_attribute("data-n") or 0)
    cited = next(c for c in data["citations"] if c["n"] == n)
    chip.click()
    expect(source.locator(".g-source")).to_have_attribute("data-n", str(n))
    expect(source.locator(".g-source-label")).to_contain_text(Path(cited["source"]).name)
    marks = source.locator(".g-passage-text mark.g-mark")
    expect(marks.first).to_be_visible()
    expect(source.locator(".g-passage-text")).to_contain_text("data resources")
    for marked in map(flat, marks.all_inner_texts()):  # every highlighted span is part of the cited passage
        assert marked and marked in flat(cited["text"]), (marked, cited["text"])
    assert "data resources" in flat(" ".join(marks.all_inner_texts()))
    # the passage box is scrolled so that the highlight is in view
    in_view = "m => { const b = m.closest('.g-passage').getBoundingClientRect(), r = m.getBoundingClientRect();"
    in_view += " return r.top >= b.top && r.top < b.bottom; }"
    assert marks.first.evaluate(in_view), "the highlighted span is scrolled out of the passage box"
    # the passage sits inside its document's text (context before or after, muted)
    context = flat(" ".join(source.locator(".g-in-context .g-context").all_inner_texts()))
    assert len(context) > 40, "the cited passage is shown without its surrounding document text"

    page.mouse.move(0, 0)  # no hover styles in the README screenshot
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "chat.png", full_page=False)
    assert not off_host, f"the page contacted other hosts: {off_host}"


def test_glass_box_shows_both_retriever_lists_cutoff_and_support_check(served_app: str, page: Page) -> None:
    open_app(page, served_app)
    ask(page, LECTURE)
    page.get_by_text("How this answer was made (glass box)").click()
    glass = page.locator("#g-glass")
    expect(glass.locator("#g-step-question")).to_contain_text(LECTURE)
    for name in ("dense", "bm25"):
        rows = glass.locator(f"#g-list-{name} table.g-table > tbody > tr")
        expect(rows.first).to_be_visible()
        assert rows.count() >= 5, f"the {name} list has {rows.count()} rows"
        expect(rows.first.locator("td.g-score")).to_have_text(re.compile(r"^\d+\.\d+$"))
    expect(glass.locator("#g-step-fusion tr.g-cutoff-row")).to_contain_text("cut-off")
    check = glass.locator("#g-step-verification")
    expect(check).to_contain_text("Support check")
    expect(check.locator("table.g-checks td.g-status").first).to_have_text("supported")
    expect(glass.locator("#g-step-generation")).to_be_visible()

    # taller than the chat's 1280x900, so the README shot reaches the fused list and its cut-off
    page.set_viewport_size({"width": 1280, "height": 1700})
    page.locator("#g-glass-toggle").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.mouse.move(0, 0)
    shot(page, "glass_box.png", full_page=False)


def test_follow_up_shows_the_rewritten_question(served_app: str, page: Page) -> None:
    open_app(page, served_app)
    ask(page, HELD)
    follow_up = ask(page, "and when was the previous one?")
    rewritten = follow_up.locator(".g-rewritten")
    expect(rewritten).to_contain_text("Asked as:")
    expect(rewritten).to_contain_text(re.compile(r"previous one.*politburo", re.I))
    expect(follow_up.locator("a.g-chip").first).to_be_visible()
    shot(page, "follow_up")


def test_the_documents_dont_say_with_closest_passages(served_app: str, page: Page) -> None:
    open_app(page, served_app)
    answer = ask(page, "What is the boiling point of ethanol?")
    box = answer.locator(".g-abstain")
    expect(box).to_contain_text("The documents don't say")
    expect(box).to_contain_text("Closest passages")
    closest = box.locator(".g-closest-list > li")
    expect(closest.first).to_be_visible()
    assert closest.count() >= 1
    assert not answer.locator(".g-answer-text").count()  # no answer text, only the abstention
    # the closest passages open in the source panel too, labelled as not cited
    closest.first.locator("a.g-chip").click()
    expect(page.locator("#g-source .g-source-meta")).to_contain_text("not cited")
    shot(page, "abstain")


def test_teaching_distractor_on_a_scratch_copy(served_app: str, page: Page) -> None:
    open_app(page, served_app)
    page.get_by_role("tab", name="Teaching").click()
    teach = page.locator("#g-teach")
    try:
        teach.get_by_role("button", name="Add distractor document").click()
        expect(teach).to_contain_text("distractor.txt", timeout=ANSWER_TIMEOUT)
        expect(teach).to_contain_text("The main index is untouched")
        teach.get_by_role("button", name="Ask the scratch index").click()
        expect(teach).to_contain_text("Index: scratch copy + distractor", timeout=ANSWER_TIMEOUT)
        teach.get_by_text("How it was made", exact=True).click()
        expect(teach.locator("#g-step-fusion")).to_contain_text("distractor.txt")  # retrieval brought it
        lists = teach.locator("#g-list-dense, #g-list-bm25")
        expect(lists.filter(has_text="distractor.txt").first).to_be_visible()
        shot(page, "teaching_distractor")
    finally:
        teach.get_by_role("button", name="Remove it").click()
    expect(teach).to_contain_text("Removed: the scratch copy is gone")
    teach.get_by_role("button", name="Ask the scratch index").click()
    expect(teach).to_contain_text("Index: main index", timeout=ANSWER_TIMEOUT)
    expect(teach.locator("#g-step-fusion")).to_be_attached()
    expect(teach.locator(".g-glass")).not_to_contain_text("distractor.txt")
    shot(page, "teaching_removed")


def test_teaching_with_vs_without_retrieval(served_app: str, page: Page) -> None:
    """The one browser test on the packaged LLM: the same question with the passages and with none."""
    open_app(page, served_app)
    page.get_by_role("tab", name="Teaching").click()
    teach = page.locator("#g-teach")
    teach.get_by_role("button", name="Compare").click()
    without = teach.locator("#g-without-retrieval")
    expect(without).to_contain_text("the model answers from memory", timeout=ANSWER_TIMEOUT)
    expect(without.locator(".g-closed-book")).not_to_be_empty()
    expect(without.locator("a.g-chip")).to_have_count(0)  # nothing to cite
    grounded = teach.locator("#g-with-retrieval")
    expect(grounded.locator(".g-answer")).to_be_visible()
    if "don't say" not in grounded.inner_text():
        expect(grounded.locator("a.g-chip").first).to_be_visible()  # a grounded answer cites its passages
    shot(page, "teaching_compare", full_page=False)


# --- uploads: their own server and index (see conftest.upload_app) -----------------------------------------
def test_upload_a_file_and_ask_about_it(upload_app: str, page: Page, tmp_path: Path) -> None:
    doc = tmp_path / "quillfeather_observatory.txt"
    doc.write_text(
        "The Quillfeather Observatory on Mount Varnholt was opened in 1987 by the astronomer Elsbeth Marrow.\n"
        "Its main telescope has a mirror 2.4 metres across and is used to study variable stars.\n"
    )
    open_app(page, upload_app)
    upload(page, doc)
    results = page.locator(".block").filter(has_text="Per-file result").filter(has=page.locator("table"))
    expect(results).to_contain_text("added")
    expect(page.get_by_text(re.compile(r"1 file\(s\) added"))).to_be_visible()
    documents = page.locator(".block").filter(has_text="Ingested").filter(has=page.locator("table"))
    expect(documents).to_contain_text(doc.name)
    shot(page, "upload_documents")

    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "Who opened the Quillfeather Observatory?")
    expect(answer).to_contain_text("Elsbeth Marrow")
    expect(answer.locator(f'a.g-chip[title*="{doc.name}"]').first).to_be_visible()
    expect(page.locator("#g-source .g-source-label")).to_contain_text(doc.name)
    shot(page, "upload_answer")

    # a page opened later lists the index as it is now, upload included
    open_app(page, upload_app)
    page.get_by_role("tab", name="Documents").click()
    documents = page.locator(".block").filter(has_text="Ingested").filter(has=page.locator("table"))
    expect(documents).to_contain_text(doc.name)


def test_document_html_is_shown_as_text_never_run(upload_app: str, page: Page, tmp_path: Path) -> None:
    payload = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>bold</b>'
    doc = tmp_path / "zebra_vault.txt"
    doc.write_text(
        f"The vault code of the zebra project is 4417. {payload} The zebra vault is kept in Oslo.\n", encoding="utf-8"
    )
    open_app(page, upload_app)
    upload(page, doc)
    page.get_by_role("tab", name="Chat").click()
    answer = ask(page, "What is the vault code of the zebra project?")
    expect(answer.locator(f'a.g-chip[title*="{doc.name}"]').first).to_be_visible()
    answer.locator(f'a.g-chip[title*="{doc.name}"]').first.click()
    source = page.locator("#g-source")
    expect(source.locator(".g-source-label")).to_contain_text(doc.name)
    expect(source).to_contain_text("<script>window.__pwned=1</script>")  # the markup, as text
    expect(source.get_by_text("<script>", exact=False).first).to_be_visible()
    expect(source).to_contain_text('onerror="window.__pwned=2"')
    page.get_by_text("How this answer was made (glass box)").click()
    expect(page.locator("#g-glass")).to_contain_text("<script>")  # previews in the lists, as text
    page.wait_for_timeout(500)  # give a (wrongly) rendered <img onerror> time to fire
    assert page.evaluate("typeof window.__pwned") == "undefined"
    for where in ("#g-chat", "#g-source", "#g-glass"):
        assert page.locator(f"{where} script, {where} img[src='x'], {where} b:text-is('bold')").count() == 0, where
    shot(page, "html_as_text")
