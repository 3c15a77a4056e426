"""The chat in a real browser: `grounded serve` driven through Debian's Chromium (fixtures in conftest.py)."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest

from tests.ui.conftest import shot

if not os.environ.get("CI"):  # in CI a missing playwright is an error, not a skip
    pytest.importorskip("playwright", reason="playwright is not installed")
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LECTURE = "Who gave the lecture at the Politburo study session on AI?"
MARKER = re.compile(r"\[(\d+)\]")


def chat_input(page: Page):
    """The ChatInterface's message box (a textarea; its placeholder empties while an answer is pending)."""
    return page.get_by_placeholder("Type a message...")


def test_question_gets_a_cited_answer(served_app: str, page: Page) -> None:
    off_host: list[str] = []
    page.on(
        "request", lambda r: off_host.append(r.url) if urlsplit(r.url).hostname not in ("127.0.0.1", None) else None
    )

    page.goto(served_app, wait_until="load")  # not networkidle: Gradio keeps connections open
    box = chat_input(page)
    box.fill(LECTURE)
    box.press("Enter")

    chat = page.get_by_role("log", name=re.compile("chatbot", re.I))
    expect(chat.get_by_test_id("user")).to_contain_text(LECTURE)
    answer = chat.get_by_test_id("bot").filter(has_text="Zheng Nanning")
    expect(answer).to_contain_text(MARKER, timeout=60_000)  # the answer streams in; wait for the marker

    # every [n] in the answer sentence is listed under Sources as a bold [n] with its file
    sentence = answer.get_by_role("paragraph").filter(has_text="Zheng Nanning").first.inner_text()
    markers = MARKER.findall(sentence)
    assert markers, sentence
    for n in markers:
        source = answer.get_by_role("paragraph").filter(has=page.get_by_text(f"[{n}]", exact=True))
        expect(source).to_contain_text(re.compile(r"\.txt .*chars \d+–\d+"))
    shot(page, "chat_answer")
    assert not off_host, f"the page contacted other hosts: {off_host}"
