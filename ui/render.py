"""HTML for the Gradio app, from the answer's JSON object (`Answer.to_dict(include_trace=True)`).

A facade: the code lives in `ui.html` (answer.py: chat message, chips, source panel, user bubble, boxes;
glass_box.py; tables.py: documents/ingest rows; style.py: CSS). Import from here as before.

    answer_html(answer)                      the chat message: sentences with [n] chips, flags, abstention box
    source_html(answer, n, context=None, context_start=None)
                                             the source panel for chip [n]: label, range, highlighted passage
    glass_box_html(answer)                   "How this answer was made", step by step, read from the trace
    error_html(e), note_html(text), streaming_html(text), closed_book_html(text, done)
                                             the app's small boxes (markupsafe: arguments are escaped)
    documents_rows(documents)                rows for the index table (DOCUMENT_HEADERS)
    ingest_result_rows(results)              rows for the per-file upload result (INGEST_RESULT_HEADERS)
    CSS                                      the styles (classes start with `g-`)

Pure functions: no Gradio import, nothing recomputed; the glass box mirrors `rag.explain` and only
reads the trace. Every piece of document text, question and model output goes through `html.escape`,
so a document containing `<script>` is shown as text. Newlines inside text become `&#10;`, so the
output never holds a blank line and a Markdown renderer (the chatbot's) treats it as one HTML block.
"""

from ui.html.answer import (
    ABSTAIN_TEXT,
    answer_html,
    citation_label,
    closed_book_html,
    error_html,
    highlight_html,
    marked_text_html,
    note_html,
    source_html,
    streaming_html,
    user_html,
)
from ui.html.glass_box import glass_box_html
from ui.html.style import CSS
from ui.html.tables import DOCUMENT_HEADERS, INGEST_RESULT_HEADERS, documents_rows, ingest_result_rows

__all__ = [
    "ABSTAIN_TEXT",
    "CSS",
    "DOCUMENT_HEADERS",
    "INGEST_RESULT_HEADERS",
    "answer_html",
    "citation_label",
    "closed_book_html",
    "documents_rows",
    "error_html",
    "glass_box_html",
    "highlight_html",
    "ingest_result_rows",
    "marked_text_html",
    "note_html",
    "source_html",
    "streaming_html",
    "user_html",
]
