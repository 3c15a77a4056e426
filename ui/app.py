"""The Gradio chat: answers through the same pipeline, with cited passages under each answer.

`build_app(pipeline)` makes the app (tests call its chat function directly); `launch`
serves it on 127.0.0.1 with analytics off.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import GroundedError
from rag.pipeline import Pipeline
from rag.types import Answer

EXAMPLES = [
    "Who gave the lecture at the Politburo study session on AI?",
    "What are the four advantages Xi said China has for developing AI?",
    "How many AI companies is China expected to have by the end of 2025?",
    "What is the boiling point of ethanol?",
]


def _quote(text: str, limit: int = 600) -> str:
    """Passage text as a Markdown block quote; HTML and Markdown in documents are shown, not run."""
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    for ch in "\\`*_[]#|":
        flat = flat.replace(ch, "\\" + ch)
    return "> " + html.escape(flat, quote=False)


def format_reply(answer: Answer) -> str:
    """The chat message: the answer with its [n] markers, then each cited passage with its source."""
    if answer.abstained:
        closest = answer.trace.fused.hits[:3]
        lines = [f"**{html.escape(answer.text, quote=False)}**", "", f"_{html.escape(answer.reason, quote=False)}_"]
        if closest:
            lines += ["", "Closest passages (not enough to answer):"]
            for hit in closest:
                lines += [
                    "",
                    f"**{html.escape(hit.chunk.label, quote=False)}** (chars {hit.chunk.start}–{hit.chunk.end})",
                    _quote(hit.chunk.text),
                ]
        return "\n".join(lines)
    lines = [html.escape(answer.text, quote=False), "", "---", "**Sources**"]
    for c in answer.citations:
        lines += [
            "",
            f"**[{c.n}]** {html.escape(c.chunk.label, quote=False)} (chars {c.chunk.start}–{c.chunk.end})",
            _quote(c.chunk.text),
        ]
    return "\n".join(lines)


def build_app(pipeline: Pipeline) -> gr.Blocks:
    """The chat app over `pipeline` (not launched).

    >>> app = build_app(Pipeline.from_settings(Settings()))
    >>> app.launch(server_name="127.0.0.1")
    """

    def chat(message: str, history: list[dict[str, Any]]) -> str:
        try:
            return format_reply(pipeline.ask(message))
        except GroundedError as e:
            raise gr.Error(str(e)) from None

    docs = sorted(Path(p).name for p in pipeline.index.manifest.documents)
    description = (
        f"Answers come only from the {len(docs)} documents in the index, each claim cited as [n]; "
        "when the documents don't say, it says so."
    )
    with gr.Blocks(title="grounded", analytics_enabled=False) as app:
        gr.ChatInterface(
            fn=chat,
            title="grounded — answers with citations",
            description=description,
            examples=EXAMPLES,
            cache_examples=False,
            api_name="chat",
            analytics_enabled=False,
            flagging_mode="never",
        )
        app.chat_fn = chat  # type: ignore[attr-defined]  # for tests and embedding
    return app


def launch(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the chat until interrupted."""
    print(f"grounded chat on http://{host}:{port} (Ctrl+C to stop)")
    build_app(pipeline).launch(server_name=host, server_port=port or None, share=False, show_error=True)
