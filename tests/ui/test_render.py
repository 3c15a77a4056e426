"""ui.render: HTML from `Answer.to_dict(include_trace=True)`, parsed back with BeautifulSoup.

Hand-made answers are built from the real dataclasses (so their dicts have exactly the pipeline's
shape); the `slow` tests render real pipeline answers over the demo index.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag

from rag.prompts import answer_messages
from rag.types import Answer, Chunk, Citation, Hit, RankedList, SentenceCheck, Trace
from rag.verify import summary
from ui.render import (
    CSS,
    DOCUMENT_HEADERS,
    INGEST_RESULT_HEADERS,
    answer_html,
    citation_label,
    documents_rows,
    glass_box_html,
    ingest_result_rows,
    source_html,
)

# --- a small hand-made collection, one document hostile ------------------------------------
Q = "What is the zebra <i>code</i>?"
PRE = "Preface of the file.\n\n"
S1 = "The zebra code is <script>alert(1)</script> and <b>bold</b> here."
S2 = "Zebras are striped & proud."
EVIL_TEXT = f"{S1}\n{S2}"
POST = "\n\nClosing words <img src=x onerror=alert(3)>."
DOCUMENT = PRE + EVIL_TEXT + POST
START = len(PRE)
END = START + len(EVIL_TEXT)
S1_SPAN = (START, START + len(S1))
S2_SPAN = (END - len(S2), END)

EVIL = Chunk("c-evil", "/docs/evil.md", START, END, EVIL_TEXT, {"title": "Zoo <em>notes</em>", "section": "Codes"})
HORSE = Chunk(
    "c-horse",
    "/docs/animals.pdf",
    400,
    440,
    "Horses are not striped <i>at all</i>.",
    {"title": "Animals", "section": "Stripes", "page": 3, "page_end": 4},
)
LION = Chunk("c-lion", "/docs/lions.txt", 0, 17, "Lions have manes.")
FUSED = (Hit(EVIL, 1, 0.0328), Hit(HORSE, 2, 0.0320), Hit(LION, 3, 0.0150))
DENSE = (Hit(EVIL, 1, 0.71), Hit(LION, 2, 0.52), Hit(HORSE, 3, 0.40))
BM25 = (Hit(HORSE, 1, 4.5), Hit(EVIL, 2, 3.1))

RAW_REPLY = "The code is <img src=x onerror=alert(2)> [1]. Horses are green [2]."
LLM_TRACE = {
    "kind": "llm",
    "model": "tiny-<model>",
    "endpoint": "http://127.0.0.1:9/v1",
    "messages": answer_messages(Q, FUSED[:2]),
    "prompt_tokens": 321,
    "completion_tokens": 17,
    "finish_reason": "stop",
    "raw": RAW_REPLY,
}
EXTRACTIVE_TRACE = {
    "kind": "extractive",
    "expected_answer_type": "any",
    "threshold": 0.39,
    "sim_weight": 0.2,
    "evidence": 0.81,
    "candidates": [
        {
            "n": 1,
            "text": S1,
            "sim": 0.6,
            "coverage": 0.9,
            "type_ok": True,
            "numbers_ok": True,
            "echo": False,
            "score": 0.81,
        },
        {
            "n": 2,
            "text": "Horses are not striped <i>at all</i>.",
            "sim": 0.2,
            "coverage": 0.1,
            "type_ok": False,
            "numbers_ok": True,
            "echo": True,
            "score": 0.05,
        },
    ],
    "decision": "answer",
    "chosen": [
        [
            {
                "n": 1,
                "text": S1,
                "sim": 0.6,
                "coverage": 0.9,
                "type_ok": True,
                "numbers_ok": True,
                "echo": False,
                "score": 0.81,
            }
        ]
    ],
}

SUPPORTED = SentenceCheck(S1, (1,), 0.95, 0.8, "supported", (1,), {1: S1_SPAN})
UNSUPPORTED = SentenceCheck(
    "Horses are green.", (2,), 0.2, 0.5, "unsupported", (2,), note="names not in the passage: green <x>"
)
OFF_TOPIC = SentenceCheck(S2, (1,), 0.9, 0.1, "off-topic", (1,), {1: S2_SPAN}, "supported, but does not address it")


def make_answer(
    *,
    text: str = f"{S1} [1]",
    sentences: tuple[SentenceCheck, ...] = (SUPPORTED,),
    hidden: tuple[SentenceCheck, ...] = (),
    cited: dict[int, tuple[tuple[int, int], ...]] | None = None,
    abstained: bool = False,
    reason: str = "evidence 0.810 ≥ threshold 0.390",
    query: str = Q,
    rewrite: dict[str, Any] | None = None,
    generator: str = "extractive",
    generation: dict[str, Any] | None = None,
    answered_by: str = "",
    policy: str = "flag",
    fallback: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An answer dict exactly as `Answer.to_dict(include_trace=True)` makes it."""
    cited = {1: (S1_SPAN,)} if cited is None else cited
    citations = tuple(Citation(n, FUSED[n - 1].chunk, FUSED[n - 1].score, spans) for n, spans in cited.items())
    verification = summary([*sentences, *hidden], list(sentences), policy)
    if fallback is not None:
        verification["fallback"] = fallback
    trace = Trace(
        question=Q,
        query=query,
        lists=(RankedList("dense", DENSE, "cosine <sim>"), RankedList("bm25", BM25, "BM25 (k1=1.5)")),
        fused=RankedList("fused", FUSED, "RRF k=60"),
        cutoff=2,
        generator=generator,
        generation=EXTRACTIVE_TRACE if generation is None else generation,
        rewrite=rewrite or {"history": [], "method": "none", "query": query},
        verification=verification,
    )
    timings = {"rewrite": 0.1, "dense": 10.0, "bm25": 2.0, "generate": 30.0, "verify": 5.0, "total": 47.1}
    answer = Answer(Q, text, abstained, reason, citations, timings, trace, sentences, policy, answered_by)
    return answer.to_dict(include_trace=True)


# --- helpers -------------------------------------------------------------------------------
def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def assert_inert(html: str) -> BeautifulSoup:
    """No element or handler came from text: only the renderer's own tags, no on* attributes."""
    doc = soup(html)
    assert doc.find_all(["script", "b", "i", "em", "img", "passage", "passages"]) == []
    for tag in doc.find_all(True):
        assert not any(a.lower().startswith("on") for a in tag.attrs), tag
    assert "\n" not in html  # one HTML block for a Markdown renderer: no raw (blank) lines
    return doc


def chips(node: Tag | BeautifulSoup) -> list[Tag]:
    return node.select("a.g-chip")


def text_of(node: Tag) -> str:
    return node.get_text()


# --- citation_label ------------------------------------------------------------------------
def test_citation_label_names_file_title_section_pages() -> None:
    assert citation_label({"source": "/a/b/report.pdf", "title": "R", "section": "S", "page": 3, "page_end": 4}) == (
        "report.pdf — R — S — pp. 3–4"
    )
    assert citation_label({"source": "/a/notes.txt", "page": 2, "page_end": 2}) == "notes.txt — p. 2"
    assert citation_label({"source": "notes.txt", "page": 0}) == "notes.txt — p. 0"
    assert citation_label({"source": "x.md", "title": ""}) == "x.md"
    assert citation_label({}) == "unknown document"


def test_citation_label_matches_the_chunk_label() -> None:
    for hit in FUSED:
        c = Citation(1, hit.chunk, hit.score).to_dict()
        assert citation_label(c) == hit.chunk.label


# --- answer_html ---------------------------------------------------------------------------
def test_answer_sentences_carry_their_citation_chips() -> None:
    a = make_answer(
        text=f"{S1} [1] Horses are not striped. [2]",
        cited={1: (S1_SPAN,), 2: ()},
        sentences=(SUPPORTED, SentenceCheck("Horses are not striped.", (2,), 0.9, 0.8, "supported", (2,))),
    )
    doc = assert_inert(answer_html(a))
    found = chips(doc)
    assert [c["data-n"] for c in found] == ["1", "2"]
    assert [c.get_text() for c in found] == ["[1]", "[2]"]
    assert [c["href"] for c in found] == ["#", "#"]
    assert found[0]["title"] == "evil.md — Zoo <em>notes</em> — Codes"
    assert found[1]["title"] == "animals.pdf — Animals — Stripes — pp. 3–4"
    sents = doc.select(".g-sent")
    assert [s.get_text() for s in sents] == [S1, "Horses are not striped."]
    assert sents[0].find_next_sibling("a") is found[0]
    assert doc.select(".g-unsupported, .g-tag, .g-rewritten, .g-abstain, .g-fallback-note") == []


def test_unsupported_and_off_topic_sentences_are_marked() -> None:
    a = make_answer(
        text=f"{S1} [1] Horses are green. [2] {S2} [1]",
        sentences=(SUPPORTED, UNSUPPORTED, OFF_TOPIC),
        cited={1: (S1_SPAN, S2_SPAN), 2: ()},
    )
    doc = assert_inert(answer_html(a))
    flagged = doc.select("span.g-unsupported")
    assert [s.get_text() for s in flagged] == ["Horses are green.", S2]
    assert flagged[0]["title"] == "unsupported: names not in the passage: green <x>"
    assert flagged[1]["title"] == "off-topic: supported, but does not address it"
    assert [t.get_text() for t in doc.select(".g-tag")] == ["⚠ unsupported", "⚠ off-topic"]
    assert "g-unsupported" not in doc.select(".g-sent")[0]["class"]
    assert [c["data-n"] for c in chips(doc)] == ["1", "2", "1"]


def test_rewritten_query_is_shown_only_when_it_differs() -> None:
    rewritten = "What is the zebra code? (about: <zoo>)"
    a = make_answer(
        query=rewritten, rewrite={"history": ["Tell me about the <zoo>"], "method": "rule", "query": rewritten}
    )
    line = assert_inert(answer_html(a)).select_one(".g-rewritten")
    assert line is not None
    assert line.get_text() == f"Asked as: {rewritten}"
    assert soup(answer_html(make_answer())).select_one(".g-rewritten") is None


def test_abstention_is_a_box_with_the_closest_passages() -> None:
    a = make_answer(
        text="The documents don't say.", abstained=True, sentences=(), cited={}, reason="best evidence 0.05 < 0.39"
    )
    doc = assert_inert(answer_html(a))
    box = doc.select_one(".g-abstain")
    assert box is not None
    assert box.select_one(".g-abstain-title").get_text() == "The documents don't say."
    assert "best evidence 0.05 < 0.39" in box.get_text()
    assert "Closest passages:" in box.get_text()
    items = box.select(".g-closest-list li")
    assert [chips(li)[0]["data-n"] for li in items] == ["1", "2", "3"]
    previews = [li.select_one(".g-preview").get_text() for li in items]
    assert previews == [h["preview"] for h in a["trace"]["fused"]["hits"][:3]]
    assert "<script>alert(1)</script>" in previews[0]
    assert doc.select(".g-answer-text") == []


def test_strict_fallback_gets_a_note() -> None:
    a = make_answer(
        generator="openai",
        generation=LLM_TRACE,
        answered_by="extractive",
        policy="strict",
        fallback={"generator": "extractive", "abstained": False, "trace": EXTRACTIVE_TRACE},
    )
    note = assert_inert(answer_html(a)).select_one(".g-fallback-note")
    assert note is not None and "openai" in note.get_text() and "extractive" in note.get_text()
    assert soup(answer_html(make_answer())).select_one(".g-fallback-note") is None


def test_answer_without_sentences_turns_markers_into_chips() -> None:
    a = make_answer(text="Zebras <b>hide</b> codes [1]. Horses do not [2, 3]. Lions [9]!", sentences=())
    doc = assert_inert(answer_html(a))
    assert [c["data-n"] for c in chips(doc)] == ["1", "2", "3", "9"]
    assert chips(doc)[0]["title"] == "evil.md — Zoo <em>notes</em> — Codes"
    assert chips(doc)[1]["title"].startswith("animals.pdf")  # not cited: named from the fused list
    assert chips(doc)[3]["title"] == "passage [9]"
    assert (
        doc.select_one(".g-answer-text").get_text() == "Zebras <b>hide</b> codes [1]. Horses do not [2][3]. Lions [9]!"
    )


# --- source_html ---------------------------------------------------------------------------
def test_source_panel_highlights_the_cited_spans_exactly() -> None:
    a = make_answer(cited={1: (S2_SPAN, S1_SPAN)}, sentences=(SUPPORTED, OFF_TOPIC))  # unsorted on purpose
    doc = assert_inert(source_html(a, 1))
    assert doc.select_one(".g-source-label").get_text() == "evil.md — Zoo <em>notes</em> — Codes"
    assert f"chars {START}–{END}" in doc.select_one(".g-source-meta").get_text()
    assert [m.get_text() for m in doc.select("mark.g-mark")] == [S1, S2]
    assert doc.select_one(".g-passage").get_text() == EVIL_TEXT  # the whole passage, shown as text


def test_source_panel_merges_overlapping_spans_and_clamps_to_the_passage() -> None:
    a = make_answer(
        cited={1: ((START + 4, START + 15), (START - 30, START + 9), (START + 10, START + 20), (END - 5, END + 99))}
    )
    marks = [m.get_text() for m in soup(source_html(a, 1)).select("mark.g-mark")]
    assert marks == [EVIL_TEXT[0:20], EVIL_TEXT[-5:]]
    outside = make_answer(cited={1: ((0, 5), (END + 1, END + 9), (START + 3, START + 3))})
    assert soup(source_html(outside, 1)).select("mark") == []


def test_source_panel_shows_the_passage_in_its_surrounding_text() -> None:
    a = make_answer()
    doc = assert_inert(source_html(a, 1, context=DOCUMENT, context_start=0))
    before, after = (c.get_text() for c in doc.select(".g-context"))
    assert before == PRE
    assert after == POST  # "<img …>" from the document is text here too
    assert doc.select_one(".g-passage-text").get_text() == EVIL_TEXT
    assert [m.get_text() for m in doc.select("mark")] == [S1]
    # a window of the document that starts mid-way: offsets are absolute
    window_start = 5
    doc = soup(source_html(a, 1, context=DOCUMENT[window_start:-3], context_start=window_start))
    before, after = (c.get_text() for c in doc.select(".g-context"))
    assert before == "…" + PRE[window_start:]
    assert after == POST[:-3]


def test_source_panel_for_an_uncited_passage_uses_the_fused_list() -> None:
    a = make_answer()
    doc = assert_inert(source_html(a, 3))
    assert "lions.txt" in doc.select_one(".g-source-label").get_text()
    assert "not cited" in doc.select_one(".g-source-meta").get_text()
    assert doc.select_one(".g-passage").get_text() == FUSED[2].to_dict()["preview"]
    with_context = soup(source_html(a, 3, context="Lions have manes. Tigers too.", context_start=0))
    assert with_context.select_one(".g-passage-text").get_text() == "Lions have manes."
    assert with_context.select_one(".g-context").get_text() == ""


@pytest.mark.parametrize("n", [0, 4, 99, -1, "x", None])
def test_source_panel_for_an_unknown_number_says_so(n: Any) -> None:
    doc = assert_inert(source_html(make_answer(), n))
    missing = doc.select_one(".g-source-missing")
    assert missing is not None and "No passage" in missing.get_text()


def test_source_panel_accepts_a_number_as_text() -> None:
    assert soup(source_html(make_answer(), "1")).select_one(".g-source")["data-n"] == "1"


# --- glass_box_html ------------------------------------------------------------------------
STEPS = ["question", "retrieval", "fusion", "generation", "verification", "timings"]


def test_glass_box_has_every_step_open_with_stable_ids() -> None:
    doc = assert_inert(glass_box_html(make_answer()))
    steps = doc.select("details.g-step")
    assert [s["id"] for s in steps] == [f"g-step-{name}" for name in STEPS]
    assert all(s.has_attr("open") for s in steps)
    assert "How this answer was made" in doc.get_text()


def test_glass_box_retriever_lists_show_rank_score_source_range_preview() -> None:
    a = make_answer()
    doc = soup(glass_box_html(a))
    lists = doc.select("#g-step-retrieval .g-list")
    assert [lst["data-list"] for lst in lists] == ["dense", "bm25"]
    dense = doc.select_one("#g-list-dense")
    assert "cosine <sim>" in dense.get_text()
    rows = [[td.get_text() for td in tr.select("td")] for tr in dense.select("tbody tr")]
    assert rows[0][:5] == ["1", "0.7100", "evil.md", f"{START}–{END}", "[1]"]  # the model saw it as [1]
    assert rows[1][:5] == ["2", "0.5200", "lions.txt", "0–17", ""]  # below the cut-off: not seen
    assert "<script>alert(1)</script>" in rows[0][5]
    bm25 = [[td.get_text() for td in tr.select("td")] for tr in doc.select("#g-list-bm25 tbody tr")]
    assert [r[:2] for r in bm25] == [["1", "4.5000"], ["2", "3.1000"]]


def test_glass_box_marks_the_cut_off_in_the_fused_list() -> None:
    doc = soup(glass_box_html(make_answer()))
    rows = doc.select("#g-step-fusion table.g-fused tbody tr")
    kinds = ["cut" if "g-cutoff-row" in r.get("class", []) else r.select_one("td").get_text() for r in rows]
    assert kinds == ["1", "2", "cut", "3"]
    assert "the model saw passages 1–2" in rows[2].get_text()
    assert "g-in" in rows[0]["class"] and "g-cited" in rows[0]["class"]
    assert "g-out" in rows[3]["class"]
    assert "the model saw passages 1–2" in doc.select_one("#g-step-fusion .g-cutoff-note").get_text()


def test_glass_box_shows_the_exact_prompt_tokens_and_raw_reply() -> None:
    a = make_answer(generator="openai", generation=LLM_TRACE, text="Horses are green. [2]", sentences=(UNSUPPORTED,))
    doc = assert_inert(glass_box_html(a))
    step = doc.select_one("#g-step-generation")
    msgs = step.select(".g-messages .g-msg")
    assert [m.select_one(".g-role").get_text() for m in msgs] == ["system", "user"]
    assert [m.select_one("pre").get_text() for m in msgs] == [m["content"] for m in LLM_TRACE["messages"]]
    assert '<passage id="1"' in msgs[1].get_text() and "<script>alert(1)</script>" in msgs[1].get_text()
    tokens = step.select_one(".g-tokens").get_text()
    assert "321" in tokens and "17" in tokens and "stop" in tokens
    assert step.select_one(".g-raw pre").get_text() == RAW_REPLY
    assert "tiny-<model>" in step.get_text()


def test_glass_box_shows_the_extractive_candidates_and_decision() -> None:
    doc = assert_inert(glass_box_html(make_answer()))
    step = doc.select_one("#g-step-generation")
    assert (
        "0.8100" in step.select_one(".g-decision").get_text() and "answer" in step.select_one(".g-decision").get_text()
    )
    assert "0.2·sim + 0.8·coverage" in step.get_text()
    rows = [[td.get_text() for td in tr.select("td")] for tr in step.select("table.g-candidates tbody tr")]
    assert rows[0] == ["✓", "[1]", "0.8100", "0.600", "0.900", "", S1]
    assert rows[1] == [
        "",
        "[2]",
        "0.0500",
        "0.200",
        "0.100",
        "missing type; echo",
        "Horses are not striped <i>at all</i>.",
    ]


def test_glass_box_support_check_lists_every_sentence_and_the_policy() -> None:
    a = make_answer(sentences=(SUPPORTED, OFF_TOPIC), hidden=(UNSUPPORTED,), policy="drop")
    step = assert_inert(glass_box_html(a)).select_one("#g-step-verification")
    assert "policy drop" in step.get_text() and "1 of 3 sentences supported" in step.get_text()
    rows = [[td.get_text() for td in tr.select("td")] for tr in step.select("table.g-checks tbody tr")]
    assert [r[1:6] for r in rows] == [
        ["shown", "supported", "0.95", "0.80", "[1]"],
        ["shown", "off-topic", "0.90", "0.10", "[1]"],
        ["hidden", "unsupported", "0.20", "0.50", "[2]"],
    ]
    assert rows[2][7:] == ["Horses are green.", "names not in the passage: green <x>"]


def test_glass_box_notes_the_strict_fallback_and_shows_its_trace() -> None:
    a = make_answer(
        generator="openai",
        generation=LLM_TRACE,
        answered_by="extractive",
        policy="strict",
        fallback={"generator": "extractive", "abstained": False, "trace": EXTRACTIVE_TRACE},
    )
    step = assert_inert(glass_box_html(a)).select_one("#g-step-verification")
    assert "extractive fallback answered" in step.select_one(".g-fallback-note").get_text()
    assert step.select_one("table.g-candidates") is not None


def test_glass_box_question_step_shows_history_method_and_query() -> None:
    rewritten = "Who keeps it? (about: zebra <code>)"
    rewrite = {
        "history": ["What is the zebra <code>?"],
        "method": "llm",
        "query": rewritten,
        "llm": {"messages": [{"role": "user", "content": "Rewrite <this>"}], "output": rewritten},
    }
    step = assert_inert(glass_box_html(make_answer(query=rewritten, rewrite=rewrite))).select_one("#g-step-question")
    assert step.select_one(".g-question").get_text() == Q
    assert [li.get_text() for li in step.select(".g-history li")] == ["What is the zebra <code>?"]
    assert step.select_one(".g-method").get_text() == "llm"
    assert step.select_one(".g-query").get_text() == rewritten
    assert "Rewrite <this>" in step.get_text()


def test_glass_box_timings_and_no_trace() -> None:
    rows = soup(glass_box_html(make_answer())).select("#g-step-timings tbody tr")
    assert [[td.get_text() for td in r.select("td")] for r in rows][-1] == ["total", "47"]
    plain = make_answer()
    del plain["trace"]
    assert "no trace" in soup(glass_box_html(plain)).get_text()


# --- escaping, all in one place -----------------------------------------------------------
def test_document_html_is_text_everywhere_it_can_appear() -> None:
    a = make_answer(
        generator="openai",
        generation=LLM_TRACE,
        sentences=(SUPPORTED, UNSUPPORTED),
        text=f"{S1} [1] Horses are green. [2]",
        cited={1: (S1_SPAN,), 2: ()},
    )
    abstained = make_answer(text="The documents don't say.", abstained=True, sentences=(), cited={})
    for html in (
        answer_html(a),
        answer_html(abstained),
        source_html(a, 1),
        source_html(a, 1, context=DOCUMENT, context_start=0),
        source_html(abstained, 1),
        source_html(a, 2),
        glass_box_html(a),
        glass_box_html(abstained),
    ):
        doc = assert_inert(html)
        assert "<script>alert(1)</script>" in doc.get_text() or "alert(1)" not in html
    assert "<script>alert(1)</script>" in soup(answer_html(a)).get_text()
    assert "<b>bold</b>" in soup(source_html(a, 1)).get_text()


def test_css_covers_the_classes_and_uses_theme_variables() -> None:
    for cls in ("g-chip", "g-mark", "g-unsupported", "g-tag", "g-abstain", "g-table", "g-cutoff-row", "g-context"):
        assert f".{cls}" in CSS
    assert "var(--body-text-color)" in CSS
    assert CSS.count("{") == CSS.count("}")


# --- tables --------------------------------------------------------------------------------
def test_documents_rows_format_and_tolerate_missing_fields() -> None:
    epoch = 1_700_000_000
    rows = documents_rows(
        [
            {"name": "a.pdf", "where": "uploaded", "chunks": 12, "ingested": "2025-04-26T10:30:00", "size": 2048},
            {"path": "/d/b.txt", "chunks": "3", "ingested": epoch},
            {"name": "c.md"},
            {"name": "d.md", "ingested": "yesterday", "size": 5 * 1024 * 1024},
        ]
    )
    assert len(DOCUMENT_HEADERS) == len(rows[0])
    assert rows[0] == ["a.pdf", 12, "2025-04-26 10:30", "2.0 KB", "uploaded"]
    assert rows[1] == ["b.txt", 3, datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M"), "", ""]  # no path
    assert rows[2] == ["c.md", "", "", "", ""]
    assert rows[3] == ["d.md", "", "yesterday", "5.0 MB", ""]
    assert documents_rows([]) == [] and documents_rows(None) == []


def test_ingest_result_rows() -> None:
    rows = ingest_result_rows(
        [
            {"path": "/tmp/up/notes.md", "status": "added", "chunks": 4, "reason": ""},
            {"path": "/tmp/up/big.pdf", "status": "skipped", "reason": "over the 20 MB limit"},
            {"status": "failed"},
        ]
    )
    assert len(INGEST_RESULT_HEADERS) == len(rows[0])
    assert rows == [
        ["notes.md", "added", 4, ""],
        ["big.pdf", "skipped", "", "over the 20 MB limit"],
        ["", "failed", "", ""],
    ]


# --- real pipeline answers -----------------------------------------------------------------
LECTURE = "Who gave the lecture at the Politburo study session on AI?"


@pytest.fixture(scope="module")
def real(pipeline) -> dict[str, dict[str, Any]]:
    return {
        "answered": pipeline.ask(LECTURE).to_dict(include_trace=True),
        "flag": pipeline.ask(LECTURE, policy="flag").to_dict(include_trace=True),
        "unanswerable": pipeline.ask("Who invented the telephone?").to_dict(include_trace=True),
        "follow_up": pipeline.ask(
            "and who presided over it?", history=["When was the Politburo study session on AI held?"]
        ).to_dict(include_trace=True),
    }


@pytest.mark.slow
def test_real_answer_renders_sentences_chips_and_sources(real: dict[str, dict[str, Any]]) -> None:
    a = real["answered"]
    assert not a["abstained"] and a["sentences"]
    doc = assert_inert(answer_html(a))
    assert "Zheng Nanning" in doc.select_one(".g-answer-text").get_text()
    by_n = {c["n"]: c for c in a["citations"]}
    expected = [n for s in a["sentences"] for n in s["citations"]]
    assert [int(c["data-n"]) for c in chips(doc)] == expected
    for chip in chips(doc):
        assert chip["title"] == citation_label(by_n[int(chip["data-n"])])
    for n, c in by_n.items():
        panel = assert_inert(source_html(a, n))
        marks = [m.get_text() for m in panel.select("mark.g-mark")]
        assert marks and marks == [c["text"][s - c["start"] : e - c["start"]] for s, e in sorted(c["spans"])]
        assert panel.select_one(".g-passage").get_text() == c["text"]
        document = Path(c["source"]).read_text(encoding="utf-8")
        lo = max(0, c["start"] - 300)
        framed = soup(source_html(a, n, context=document[lo : c["end"] + 300], context_start=lo))
        assert framed.select_one(".g-passage-text").get_text() == c["text"]
        assert framed.select(".g-context")[1].get_text() == document[c["end"] : c["end"] + 300]


@pytest.mark.slow
def test_real_glass_box_reads_the_trace(real: dict[str, dict[str, Any]]) -> None:
    a = real["answered"]
    t = a["trace"]
    doc = assert_inert(glass_box_html(a))
    assert [s["id"] for s in doc.select("details.g-step")] == [f"g-step-{name}" for name in STEPS]
    names = [lst["data-list"] for lst in doc.select("#g-step-retrieval .g-list")]
    assert names == [lst["name"] for lst in t["lists"]] and {"dense", "bm25"} <= set(names)
    for lst in t["lists"]:
        first = doc.select_one(f"#g-list-{lst['name']} tbody tr")
        cells = [td.get_text() for td in first.select("td")]
        assert cells[0] == str(lst["hits"][0]["rank"]) and cells[1] == f"{lst['hits'][0]['score']:.4f}"
    rows = doc.select("#g-step-fusion table.g-fused tbody tr")
    cut = next(i for i, r in enumerate(rows) if "g-cutoff-row" in r.get("class", []))
    assert cut == t["cutoff"]  # right after passage `cutoff`
    assert f"the model saw passages 1–{t['cutoff']}" in rows[cut].get_text()
    assert t["generation"]["decision"] in doc.select_one("#g-step-generation .g-decision").get_text()
    cands = doc.select("#g-step-generation table.g-candidates tbody tr")
    assert len(cands) == len(t["generation"]["candidates"])
    checks = doc.select("#g-step-verification table.g-checks tbody tr")
    assert len(checks) == len(t["verification"]["sentences"])
    assert f"policy {a['policy']}" in doc.select_one("#g-step-verification").get_text()
    assert len(doc.select("#g-step-timings tbody tr")) == len(a["timings_ms"])


@pytest.mark.slow
def test_real_flag_policy_marks_exactly_the_unsupported_sentences(real: dict[str, dict[str, Any]]) -> None:
    a = real["flag"]
    assert a["policy"] == "flag"
    doc = assert_inert(answer_html(a))
    assert len(doc.select(".g-unsupported")) == sum(not s["supported"] for s in a["sentences"])
    assert len(doc.select(".g-sent")) == len(a["sentences"])
    assert "policy flag" in soup(glass_box_html(a)).select_one("#g-step-verification").get_text()


@pytest.mark.slow
def test_real_unanswerable_question_gets_the_abstention_box(real: dict[str, dict[str, Any]]) -> None:
    a = real["unanswerable"]
    assert a["abstained"]
    doc = assert_inert(answer_html(a))
    box = doc.select_one(".g-abstain")
    assert box.select_one(".g-abstain-title").get_text() == "The documents don't say."
    assert a["reason"] in box.get_text()
    hits = a["trace"]["fused"]["hits"][:3]
    assert [int(c["data-n"]) for c in chips(box)] == [h["rank"] for h in hits]
    assert [p.get_text() for p in box.select(".g-preview")] == [h["preview"] for h in hits]
    panel = soup(source_html(a, 1))
    assert "not cited" in panel.get_text() and hits[0]["preview"] in panel.get_text()
    gen = soup(glass_box_html(a)).select_one("#g-step-generation .g-decision").get_text()
    assert "abstain" in gen


@pytest.mark.slow
def test_real_follow_up_shows_the_rewritten_question(real: dict[str, dict[str, Any]]) -> None:
    a = real["follow_up"]
    assert a["query"] != a["question"]
    doc = assert_inert(answer_html(a))
    assert doc.select_one(".g-rewritten").get_text() == f"Asked as: {a['query']}"
    step = soup(glass_box_html(a)).select_one("#g-step-question")
    assert [li.get_text() for li in step.select(".g-history li")] == a["trace"]["rewrite"]["history"]
    assert step.select_one(".g-method").get_text() == a["trace"]["rewrite"]["method"]
    assert step.select_one(".g-query").get_text() == a["query"]


def test_app_boxes_show_their_text_as_text() -> None:
    from ui.render import closed_book_html, error_html, note_html, streaming_html

    evil = 'x <script>alert(1)</script> & "q"\n<img src=x onerror=alert(1)>'
    for out, cls in (
        (error_html(evil), "g-error"),
        (note_html(evil), "g-note"),
        (closed_book_html(evil), "g-closed-book"),
        (streaming_html(evil + " [2]"), "g-streaming"),
    ):
        soup = BeautifulSoup(out, "html.parser")
        assert soup.find("script") is None and soup.find("img") is None and "\n" not in out
        box = soup.find("div", class_=cls)
        assert box is not None and "<script>alert(1)</script>" in box.get_text()
    assert BeautifulSoup(streaming_html("see [2]"), "html.parser").find("a", class_="g-chip")["data-n"] == "2"
    done = BeautifulSoup(closed_book_html("from memory", done=True), "html.parser")
    assert "nothing here is cited or checked" in done.find("div", class_="g-note").get_text()
    assert error_html(ValueError("bad")).endswith("⚠ bad</div>")
