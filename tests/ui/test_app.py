"""The Gradio app's chat function, called directly (no server)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from ingest.indexer import ingest
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.app import build_app

pytestmark = pytest.mark.slow


def test_chat_shows_answer_and_cited_passages(pipeline) -> None:
    reply = build_app(pipeline).chat_fn("Who gave the lecture at the Politburo study session on AI?", [])
    assert "Zheng Nanning" in reply
    assert "**Sources**" in reply
    assert "002_051ad646e9f7dedc.txt" in reply or "000_eb440050df25cd3d.txt" in reply


def test_chat_abstains_with_closest_passages(pipeline) -> None:
    reply = build_app(pipeline).chat_fn("What is the boiling point of ethanol?", [])
    assert "The documents don't say" in reply
    assert "Closest passages" in reply


def test_chat_empty_question_is_a_gradio_error(pipeline) -> None:
    with pytest.raises(gr.Error):
        build_app(pipeline).chat_fn("  ", [])


def test_document_html_is_shown_as_text(tmp_path: Path) -> None:
    doc = tmp_path / "evil.md"
    doc.write_text(
        "The secret launch code of the zebra project is <script>alert('x')</script> "
        "<img src=x onerror=alert(1)> kept in the vault.\n"
    )
    settings = Settings(index=tmp_path / "idx", abstain_threshold=0.0)
    ingest([doc], settings, progress=False)
    reply = build_app(Pipeline.from_settings(settings)).chat_fn("What is the launch code of the zebra project?", [])
    assert "<script>" not in reply and "<img" not in reply
    assert "&lt;script&gt;" in reply
