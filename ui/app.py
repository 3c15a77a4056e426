"""The Gradio app: a streaming chat with citation chips and a source panel, the glass box, the
documents in the index (with upload), teaching mode, and the `/ask` HTTP API.

`ChatService` (in `ui.service`, re-exported here) does the work and knows nothing of widgets;
`build_app(pipeline)` lays it out; `launch` serves it on 127.0.0.1 with analytics off.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import GroundedError
from rag.pipeline import Pipeline
from rag.types import Generation
from ui import openai_api
from ui.access import Access, check_exposure
from ui.evaluate import Evaluator, evaluate_tab
from ui.memory import kept_answers, limit_heap_growth
from ui.render import (
    CSS,
    DOCUMENT_HEADERS,
    INGEST_RESULT_HEADERS,
    answer_html,
    closed_book_html,
    documents_rows,
    error_html,
    glass_box_html,
    ingest_result_rows,
    marked_text_html,
    note_html,
    streaming_html,
    user_html,
)
from ui.service import FAILURE_DEMOS, ChatService, llm_name
from ui.uploads import UPLOAD_TYPES

EXAMPLES = [
    "Who gave the lecture at the Politburo study session on AI?",
    "What are the four advantages Xi said China has for developing AI?",
    "How many AI companies is China expected to have by the end of 2025?",
    "What is the boiling point of ethanol?",
]
DEMO_QUESTION = "Who gave the lecture at the Politburo study session on AI?"

# Chips are <a class="g-chip" data-n> inside chat messages and panels: a click writes
# "message index:n" into a hidden box and presses a hidden button, whose handler renders the source.
# A source shown in its document's text is scrolled so the highlighted span is in view.
CHIP_JS = """
() => {
  if (window.__groundedChips) return;
  window.__groundedChips = true;
  document.addEventListener('click', (ev) => {
    const chip = ev.target.closest('a.g-chip');
    if (!chip) return;
    ev.preventDefault();
    const n = chip.dataset.n || (chip.textContent.match(/\\d+/) || [''])[0];
    const bots = [...document.querySelectorAll('#g-chat [data-testid="bot"]')];
    const msg = chip.closest('[data-testid="bot"]');
    const where = chip.closest('#g-teach') ? 'teach' : (msg ? String(bots.indexOf(msg)) : 'last');
    const box = document.querySelector('#g-cite-target textarea, #g-cite-target input');
    box.value = where + ':' + n;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    setTimeout(() => document.querySelector('#g-cite-button').click(), 50);
  });
  // A passage shown inside its document text scrolls (in its own box) to the highlighted span.
  new MutationObserver(() => {
    for (const box of document.querySelectorAll('.g-in-context:not([data-g-scrolled])')) {
      box.dataset.gScrolled = '1';
      const mark = box.querySelector('mark.g-mark') || box.querySelector('.g-passage-text');
      if (mark) box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - 60;
    }
  }).observe(document.body, {childList: true, subtree: true});
}
"""


# --- layout ----------------------------------------------------------------------------------------
def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": user_html(text)}


def _bot(body: str) -> dict[str, str]:
    return {"role": "assistant", "content": body}


def _error_html(e: Exception) -> str:
    return error_html(e)


def _session(request: gr.Request | None) -> str:
    """The browser session an event comes from (its failure demo is its own)."""
    return (request.session_hash if request is not None else None) or ""


def build_app(pipeline: Pipeline) -> gr.Blocks:
    """The app over `pipeline` (not launched; `launch` sets the queue, auth and file limits).

    >>> app = build_app(Pipeline.from_settings(Settings()))
    >>> app.launch(server_name="127.0.0.1")
    """
    service = ChatService(pipeline)
    s = pipeline.settings
    # Events that run the models share one limit (GROUNDED_CONCURRENCY); uploads go one batch at a time.
    answering = {"concurrency_limit": s.concurrency, "concurrency_id": "answer"}
    generators = ["extractive", "local"] + (
        ["openai"] if s.openai_api_key or "api.openai.com" not in s.openai_base_url else []
    )
    if s.generator not in generators:  # ollama or a plug-in, as configured
        generators.append(s.generator)

    def respond(
        message: str, chat: list[dict[str, Any]], answers: list[dict[str, Any]], generator: str, top_k: int, policy: str
    ) -> Iterator[tuple[Any, ...]]:
        message = (message or "").strip()
        if not message:
            yield chat, answers, gr.skip(), gr.skip(), ""
            return
        chat = [*chat, _user(message), _bot('<div class="g-pending">Searching the documents…</div>')]
        yield chat, answers, gr.skip(), gr.skip(), ""
        history = [a["query"] for a in answers]
        try:
            for item in service.stream(message, history, generator, top_k, policy):
                if isinstance(item, Generation):
                    chat[-1] = _bot(streaming_html(item.text))
                    yield chat, answers, gr.skip(), gr.skip(), ""
                else:
                    data = item.to_dict(include_trace=True)
                    answers = kept_answers(answers, data)  # on the server (gr.State), slimmed; clients see names
                    shown = service.public(data)
                    chat[-1] = _bot(answer_html(shown))
                    first = data["citations"][0]["n"] if data["citations"] else 1
                    yield chat, answers, glass_box_html(shown), service.source(data, first), ""
        except GroundedError as e:
            chat[-1] = _bot(_error_html(e))
            yield chat, answers, gr.skip(), gr.skip(), ""

    def open_source(target: str, answers: list[dict[str, Any]], teach: dict[str, Any] | None) -> tuple[Any, Any]:
        where, _, n = (target or "").partition(":")
        if not n.isdigit():
            return gr.skip(), gr.skip()
        if where == "teach":
            return gr.skip(), service.source(teach, int(n)) if teach else gr.skip()
        idx = int(where) if where.lstrip("-").isdigit() else -1
        answer = answers[idx] if answers and -len(answers) <= idx < len(answers) else None
        if not answer:
            return '<div class="g-note">Ask a question first.</div>', gr.skip()
        return service.source(answer, int(n)), gr.skip()

    def clear() -> tuple[Any, ...]:
        return [], [], "", '<div class="g-note">Click a citation chip to see its passage.</div>'

    def upload(files: list[str] | None) -> Iterator[tuple[Any, ...]]:
        """Store and check the files, ingest them in the background, and report progress until done."""
        try:
            job = service.start_upload(files or [], temp_root=Path(gr.utils.get_upload_folder()))
        except GroundedError as e:
            yield gr.skip(), gr.skip(), f"⚠ {e}", gr.skip()
            return
        started = time.monotonic()
        while not job.done:  # the ingest runs in a child process; this event only polls it
            yield (
                gr.skip(),
                ingest_result_rows(job.results),
                f"⏳ {job.status} ({time.monotonic() - started:.0f} s)",
                None,
            )
            job.wait(0.5)
        results = job.results
        added = sum(r["status"] in ("added", "replaced") for r in results)
        note = f"{added} file(s) added or updated; {len(results) - added} other result(s). Ask about them in Chat."
        yield documents_rows(service.documents()), ingest_result_rows(results), note, None

    def compare(question: str, generator: str, top_k: int) -> Iterator[tuple[str, str]]:
        question = (question or "").strip() or DEMO_QUESTION
        llm = llm_name(generator)
        left = right = '<div class="g-pending">…</div>'
        try:
            for item in service.stream(question, (), llm, top_k):
                left = (
                    marked_text_html(item.text)
                    if isinstance(item, Generation)
                    else answer_html(service.public(item.to_dict(include_trace=True)))
                )
                yield left, right
            text = ""
            for gen in service.closed_book(question, llm):
                text = gen.text
                right = closed_book_html(text)
                yield left, right
            right = closed_book_html(text, done=True)
            yield left, right
        except GroundedError as e:
            yield left, _error_html(e)

    def demo_add(kind: str, request: gr.Request) -> str:
        try:
            service.add_failure_demo(kind, _session(request))
        except GroundedError as e:
            return f"⚠ {e}"
        return (
            f"Added {FAILURE_DEMOS[kind][1]} (`{FAILURE_DEMOS[kind][0].name}`) to a scratch copy of the index, "
            "for this browser session only. The main index is untouched. Ask below and watch which passages "
            "retrieval brings."
        )

    def add_distractor_demo(request: gr.Request) -> str:
        return demo_add("distractor", request)

    def add_injection_demo(request: gr.Request) -> str:
        return demo_add("injection", request)

    def demo_remove(request: gr.Request) -> str:
        service.remove_failure_demo(_session(request))
        return "Removed: the scratch copy is gone; answers below use the main index again."

    def demo_ask(
        question: str, generator: str, top_k: int, request: gr.Request
    ) -> tuple[str, str, dict[str, Any] | None]:
        question = (question or "").strip() or DEMO_QUESTION
        session = _session(request)
        try:
            answer = service.scratch_pipeline(generator, top_k, session).ask(question).to_dict(include_trace=True)
        except GroundedError as e:
            return _error_html(e), "", None
        kind = service.failure_demo(session)
        where = f"scratch copy + {kind}" if kind else "main index"
        head = note_html(f"Index: {where}")
        shown = service.public(answer)
        return head + answer_html(shown), glass_box_html(shown), answer

    def demo_cleanup(request: gr.Request) -> None:
        service.remove_failure_demo(_session(request))  # the browser tab closed: its scratch copy goes

    def ask_api(question: str, include_trace: bool = False, history: list[str] | None = None) -> dict[str, Any]:
        """The same JSON object as `grounded ask --json`, with document names instead of server paths
        (and the trace when include_trace is true)."""
        try:
            return service.public(service.ask_json(question, include_trace, history or ()))
        except GroundedError as e:
            raise gr.Error(str(e)) from None

    n_docs = len(pipeline.index.manifest.documents)
    with gr.Blocks(title="grounded", analytics_enabled=False) as app:
        answers = gr.State([])
        teach_answer = gr.State(None)
        gr.Markdown(
            f"## grounded — answers with citations\nAnswers come only from the {n_docs} documents in the index; "
            "every sentence is checked against the passage it cites. Click a chip like **[1]** to see the passage."
        )
        with gr.Row():
            generator = gr.Dropdown(generators, value=s.generator, label="Generator", scale=1)
            top_k = gr.Slider(1, 10, value=s.top_k, step=1, label="Passages the model sees (top-k)", scale=1)
            policy = gr.Radio(["flag", "drop", "strict"], value=s.verify_policy, label="Unsupported sentences", scale=1)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            elem_id="g-chat",
                            height=520,
                            sanitize_html=False,  # every text is escaped by ui.render; chips need data-n
                            label="Conversation",
                            placeholder="Ask about the documents. Follow-up questions are rewritten using the chat.",
                        )
                        box = gr.Textbox(
                            placeholder="Ask a question about the documents…", show_label=False, elem_id="g-question"
                        )
                        with gr.Row():
                            send = gr.Button("Ask", variant="primary", elem_id="g-ask")
                            new = gr.Button("New conversation")
                        gr.Examples(EXAMPLES, inputs=box)
                    with gr.Column(scale=2):
                        gr.Markdown("### Source")
                        source = gr.HTML(
                            '<div class="g-note">Click a citation chip to see its passage.</div>', elem_id="g-source"
                        )
                with gr.Accordion("How this answer was made (glass box)", open=False, elem_id="g-glass-toggle"):
                    glass = gr.HTML("", elem_id="g-glass")
            with gr.Tab("Documents", id="documents"):
                docs = gr.Dataframe(
                    value=documents_rows(service.documents()), headers=DOCUMENT_HEADERS, interactive=False
                )
                files = gr.File(  # any type: what we refuse gets a row in the result table, with the reason
                    label=f"Add documents ({', '.join(UPLOAD_TYPES)}; up to {s.max_file_mb:g} MB each)",
                    file_count="multiple",
                    elem_id="g-upload",
                )
                ingest_btn = gr.Button("Ingest", variant="primary", elem_id="g-ingest")
                ingest_note = gr.Markdown("")
                results = gr.Dataframe(headers=INGEST_RESULT_HEADERS, interactive=False, label="Per-file result")
            with gr.Tab("Teaching", id="teaching", elem_id="g-teach"):
                gr.Markdown(
                    "### With vs without retrieval\nThe same question to the chosen LLM (the packaged local "
                    "model when the extractive generator is selected): with the passages, and with none."
                )
                t_question = gr.Textbox(value=DEMO_QUESTION, label="Question")
                t_compare = gr.Button("Compare", variant="primary")
                with gr.Row():
                    with gr.Column():
                        gr.Markdown("**With retrieval** (the passages, cited and checked)")
                        with_html = gr.HTML(elem_id="g-with-retrieval")
                    with gr.Column():
                        gr.Markdown("**Without retrieval** (the model's memory)")
                        without_html = gr.HTML(elem_id="g-without-retrieval")
                gr.Markdown(
                    "### Failure demos\nAdd a prepared document to a *scratch copy* of the index (the main index is "
                    "never touched), ask, and see what retrieval and the answer do. Remove it with one click."
                )
                with gr.Row():
                    add_distractor = gr.Button("Add distractor document")
                    add_injection = gr.Button("Add injected-instruction document")
                    remove_demo = gr.Button("Remove it")
                demo_note = gr.Markdown("")
                d_question = gr.Textbox(value=DEMO_QUESTION, label="Question")
                d_ask = gr.Button("Ask the scratch index")
                with gr.Row():
                    d_answer = gr.HTML()
                    d_source = gr.HTML('<div class="g-note">Click a citation chip to see its passage.</div>')
                with gr.Accordion("How it was made", open=False):
                    d_glass = gr.HTML()
            evaluate_tab(Evaluator(service), generators)  # its own widgets and events (ui/evaluate.py)
        cite_target = gr.Textbox(visible="hidden", elem_id="g-cite-target")
        cite_button = gr.Button("open source", visible="hidden", elem_id="g-cite-button")

        outputs = [chatbot, answers, glass, source, box]
        inputs = [box, chatbot, answers, generator, top_k, policy]
        box.submit(respond, inputs, outputs, api_visibility="private", **answering)
        send.click(respond, inputs, outputs, api_visibility="private", **answering)
        new.click(clear, None, [chatbot, answers, glass, source], api_visibility="private")
        cite_button.click(
            open_source, [cite_target, answers, teach_answer], [source, d_source], api_visibility="private"
        )
        ingest_btn.click(
            upload, files, [docs, results, ingest_note, files], api_visibility="private", concurrency_limit=1
        )
        t_compare.click(
            compare, [t_question, generator, top_k], [with_html, without_html], api_visibility="private", **answering
        )
        add_distractor.click(add_distractor_demo, None, demo_note, api_visibility="private")
        add_injection.click(add_injection_demo, None, demo_note, api_visibility="private")
        remove_demo.click(demo_remove, None, demo_note, api_visibility="private")
        d_ask.click(
            demo_ask,
            [d_question, generator, top_k],
            [d_answer, d_glass, teach_answer],
            api_visibility="private",
            **answering,
        )
        gr.api(ask_api, api_name="ask", **answering)
        app.unload(demo_cleanup)
        app.load(None, None, None, js=CHIP_JS)
        # the index may have grown since build_app (uploads): list what it holds now, per page load
        app.load(
            lambda: documents_rows(service.documents()), None, docs, api_visibility="private", api_name="documents"
        )
    app.service = service  # type: ignore[attr-defined]  # for tests and embedding
    return app


def launch(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860, access: Access | None = None) -> None:
    """Serve the app until interrupted: the queue, the logins/token gate and the file limits set on purpose.
    A non-loopback `host` without logins or a token is refused unless settings.insecure_no_auth (then it warns).

    >>> launch(Pipeline.from_settings(s), s.host, s.port, Access.from_settings(s))   # `grounded serve`
    """
    s = pipeline.settings
    access = access if access is not None else Access.from_settings(s)
    check_exposure(host, access, s.insecure_no_auth)  # library callers too, not only `grounded serve`
    limit_heap_growth()  # else glibc's arenas keep every freed tensor: RSS +80% over 3 rounds (ui/memory.py)
    # Gradio keeps uploads and every file it serves in its temp folder; a private one per server means
    # `/gradio_api/file=` can reach only this server's own uploads, never another app's or the system's.
    temp = None
    if not os.environ.get("GRADIO_TEMP_DIR"):
        temp = tempfile.TemporaryDirectory(prefix="grounded-serve-")
        os.environ["GRADIO_TEMP_DIR"] = temp.name
    app = build_app(pipeline)
    # Up to `concurrency` answers run at once (CPU-bound: one per core), `queue_size` more wait their turn.
    app.queue(default_concurrency_limit=s.concurrency, max_size=s.queue_size)
    where = f"http://{host}:{port}"
    how = "logins required" if access.users else "API token required" if access.token else "no authentication"
    print(f"grounded chat on {where} ({how}; Ctrl+C to stop)", flush=True)
    if threading.current_thread() is threading.main_thread():  # `kill` stops it like Ctrl+C: temp files go
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        app.launch(
            server_name=host,
            server_port=port or None,
            share=False,
            show_error=True,
            css=CSS,
            auth=access.gradio_auth(),
            auth_message="Log in to grounded (the server's --auth / GROUNDED_AUTH logins).",
            app_kwargs={  # the OpenAI-compatible API on the same port, behind the same gate (ui/openai_api.py)
                "middleware": [openai_api.middleware(), access.middleware()],
                "routes": openai_api.openai_routes(app.service),  # type: ignore[attr-defined]
            },
            max_file_size=int(s.max_file_mb * 1e6),  # the one limit: the same bytes our own check uses
            allowed_paths=[],  # nothing beyond Gradio's own (private) temp folder is served
            blocked_paths=[str(Path(s.index).expanduser().resolve())],  # documents are shown as text, never files
            quiet=True,
        )
    finally:
        app.service.close()  # type: ignore[attr-defined]
        if temp is not None:
            temp.cleanup()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
