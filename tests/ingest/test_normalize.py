"""Hard-wrapped lines rejoined at the same length: sentences whole, structure kept, offsets valid."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from ingest.normalize import keeps_hyphen, normalize
from rag.settings import demo_corpus_dir
from rag.text import split_sentences

REPORT = (
    "The 2024 inspection of the Harbour Bridge found corrosion on 14 of the 96 steel hangers that connect the "
    "deck to the main cables. Engineers recommended that the worst six hangers be replaced within two years, "
    "and the city council approved the work in March after a well-known contractor offered a fixed price. "
    "During the repairs the speed limit on the bridge was lowered from 70 km/h to 50 km/h, and heavy lorries "
    "were sent on a detour through the northern ring road. The self-reliant maintenance crews will start in "
    "May and expect to finish before the first frost of the winter."
)
DRAINAGE = (
    "Water that collects on the east approach is the main cause of the corrosion, so the drainage there will be "
    "rebuilt as well. The council will publish a progress report every quarter until the work is done."
)


def _document(body: list[str]) -> str:
    return (
        "Harbour Bridge Report\n\n" + "\n\n".join(body) + "\n\nThe council asks for:\n- monthly checks\n- a new drain\n"
    )


def _sentences(text: str) -> list[str]:
    return [" ".join(text[s:e].split()) for s, e in split_sentences(text)]


def _same_outside_words(raw: str, out: str) -> None:
    """Same length; every character equal, or whitespace turned into a space, or inside a rejoined word."""
    assert len(out) == len(raw)
    for i, (a, b) in enumerate(zip(raw, out, strict=True)):
        if a != b:
            assert (a.isspace() and b == " ") or raw[i - 12 : i + 12].count("-\n") == 1, (i, raw[i - 20 : i + 20])


@pytest.mark.parametrize("width", [60, 70, 80])
def test_text_wrapped_at_60_to_80_columns_reads_as_the_unwrapped_text(width: int) -> None:
    unwrapped = _document([REPORT, DRAINAGE])
    wrapped = _document([textwrap.fill(REPORT, width), textwrap.fill(DRAINAGE, width)])
    assert "\n" in textwrap.fill(REPORT, width) and wrapped != unwrapped
    out = normalize(wrapped)
    _same_outside_words(wrapped, out)
    assert _sentences(out) == _sentences(unwrapped)
    assert "hangers that connect the deck to the main cables." in out
    # the structure stays: heading, paragraphs, intro and list items are still lines of their own
    lines = [line.strip() for line in out.split("\n") if line.strip()]
    assert lines[0] == "Harbour Bridge Report" and lines[-3:] == [
        "The council asks for:",
        "- monthly checks",
        "- a new drain",
    ]
    assert len(lines) == 6


def test_the_issue_s_hanger_sentence_is_one_line() -> None:
    raw = "found corrosion on 14 of the 96 steel hangers that connect the\ndeck to the main cables."
    assert normalize(raw) == raw.replace("\n", " ")


def test_a_hyphenated_line_end_becomes_the_word_then_spaces() -> None:
    raw = "Effective gov-\nernance matters.\nIt needs well-\nknown rules, and the drain-\nage, too."
    out = normalize(raw)
    assert out == "Effective governance   matters.\nIt needs well-known  rules, and the drainage,   too."
    assert out.index("governance") == raw.index("gov-")  # the word starts where it started
    assert out.index("well-known") == raw.index("well-")
    _same_outside_words(raw, out)
    assert _sentences(out) == ["Effective governance matters.", "It needs well-known rules, and the drainage, too."]


def test_the_document_s_own_spelling_decides_a_hyphen() -> None:
    assert not keeps_hyphen("gov", "ernance")
    assert keeps_hyphen("well", "known") and keeps_hyphen("self", "reliant")
    assert not keeps_hyphen("hang", "ers")  # a suffix is no word of its own
    assert keeps_hyphen("zorb", "quintal", "the zorb-quintal rule") and not keeps_hyphen(
        "zorb", "quintal", "zorbquintal"
    )


def test_structure_stays_separate_lines() -> None:
    raw = (
        "Opening Hours\n"
        "The shop opens at nine on weekdays and at ten on\n"
        "Saturdays.\n"
        "Prices\n"
        "Plan: Basic · Price: 9 · Seats: 1\n"
        "Plan: Team · Price: 29 · Seats: 5\n"
        "1. Bring your receipt\n"
        "2. Ask at the desk\n"
        "(3) Wait for the call\n"
        "• a bullet\n"
        "| a | b |\n"
        "| c | d |\n"
        "# Heading\n"
        "Translation Date\n"
        "April 28, 2025\n"
    )
    out = normalize(raw)
    lines = out.split("\n")
    assert lines[0] == "Opening Hours"
    assert "The shop opens at nine on weekdays and at ten on Saturdays." in lines
    for kept in raw.split("\n")[3:]:
        assert kept in lines, kept


def test_a_blank_line_inside_a_sentence_is_rejoined_only_when_the_sentence_goes_on() -> None:
    raw = (
        "On the afternoon of April 25, the Politburo held its 20th collective\n\n"
        "study session on artificial intelligence.\n\n"
        "Translation Date\n\n"
        "sometimes lower case after a label\n\n"
        "This paragraph ends here.\n\n"
        "lower case after a full stop stays a paragraph."
    )
    out = normalize(raw)
    assert "20th collective  study session" in out
    assert "Translation Date\n\nsometimes" in out and "ends here.\n\nlower" in out
    _same_outside_words(raw, out)


def test_the_demo_corpus_date_sentence_is_whole() -> None:
    path = next(demo_corpus_dir().glob("002_*.txt"))
    raw = path.read_text(encoding="utf-8")
    assert "collective\n\nstudy session" in raw  # the break the issue names
    out = normalize(raw)
    date = [s for s in _sentences(out) if "afternoon of April 25" in s]
    assert len(date) == 1 and "20th collective study session" in date[0]
    _same_outside_words(raw, out)


def test_paragraph_per_line_texts_are_left_as_they_are() -> None:
    """The demo articles put a paragraph on each line, headings between: nothing there is a wrap."""
    for path in sorted(Path(demo_corpus_dir()).glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        changed = [i for i, (a, b) in enumerate(zip(raw, normalize(raw), strict=True)) if a != b]
        print(path.name, len(changed), "characters changed")
        if path.name.startswith(("000_", "003_")):
            assert changed == []
        assert len(changed) <= 2


def test_pdf_like_page_text() -> None:
    """pypdf's lines of a page made by fpdf2: wraps are undone, a heading line and a numbered list are kept."""
    raw = (
        "Harbour Bridge Inspection\n"
        "The 2024 inspection of the Harbour Bridge found corrosion on 14 of the 96 steel hangers that\n"
        "connect the\n"
        "deck to the main cables. Engineers recommended that the worst six be replaced within two years\n"
        "and that the rest be checked every year. The report also asks for better drain-\n"
        "age on the east approach.\n"
        "Traffic Measures\n"
        "During the repairs the speed limit on the bridge was lowered from 70 km/h to 50 km/h and heavy\n"
        "lorries were sent on a detour.\n\n"
        "The city council published the following\n"
        "recommendations:\n"
        "1. Replace the six worst hangers.\n"
        "2. Inspect the remaining hangers every year."
    )
    out = normalize(raw)
    lines = [re.sub(r" +", " ", line) for line in out.split("\n")]
    assert lines[0] == "Harbour Bridge Inspection" and "Traffic Measures" in lines
    assert any("hangers that connect the deck to the main cables." in line for line in lines)
    assert any("better drainage on the east approach." in line for line in lines)
    assert "The city council published the following recommendations:" in lines
    assert lines[-2:] == ["1. Replace the six worst hangers.", "2. Inspect the remaining hangers every year."]
    _same_outside_words(raw, out)
