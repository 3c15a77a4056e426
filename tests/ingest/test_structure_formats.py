"""Structure through ingest: tables with their headers, chunks along headings and lists, wrapped text whole.

Loader and chunker checks are pure; the integration checks ingest PDF (fpdf2), wrapped `.txt`, DOCX, HTML
and Markdown files into a temp index and read back what Chroma stores.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ingest.chunker import ChunkerConfig, chunk_text, make_splitter
from ingest.loaders import label_tables, loader_for, table_lines
from ingest.normalize import normalize
from rag.settings import Settings
from rag.structure import decode_blocks, parse_blocks
from rag.text import split_sentences
from rag.types import Chunk

HANGERS = "found corrosion on 14 of the 96 steel hangers that connect the deck to the main cables."
REPORT = (
    "The 2024 inspection of the Harbour Bridge found corrosion on 14 of the 96 steel hangers that connect the "
    "deck to the main cables. Engineers recommended that the worst six hangers be replaced within two years, "
    "and the city council approved the work in March after a well-known contractor offered a fixed price."
)
TRAFFIC = (
    "During the repairs the speed limit on the bridge was lowered from 70 km/h to 50 km/h, and heavy lorries "
    "were sent on a detour through the northern ring road, which adds about twelve minutes to their journey."
)


def _words(text: str) -> int:
    return len(text.split())


def _sentence_texts(text: str) -> list[str]:
    return [" ".join(text[s:e].split()) for s, e in split_sentences(text)]


# --- tables -----------------------------------------------------------------------------------------------
def test_table_rows_carry_their_header_labels() -> None:
    rows = [["Plan", "Price", "Seats"], ["Basic", "9", "1"], ["Team", "29", ""]]
    assert table_lines(rows) == ["Plan: Basic · Price: 9 · Seats: 1", "Plan: Team · Price: 29"]
    assert table_lines([["Species", "Grevy's zebra"]]) == ["Species | Grevy's zebra"]  # one row: no header
    assert table_lines([["2019", "4"], ["2020", "5"]]) == ["2019 | 4", "2020 | 5"]  # numbers are no header
    md = "Intro:\n\n| Plan | Price |\n|---|---|\n| Basic | 9 |\n| Team | 29 |\n\nAfter."
    assert label_tables(md) == "Intro:\n\nPlan: Basic · Price: 9\nPlan: Team · Price: 29\n\nAfter."


def test_docx_table_rows_in_document_order(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("Staff Rules", level=1)
    d.add_paragraph("The minimum ages for each role are listed below.")
    table = d.add_table(rows=3, cols=2)
    for r, (role, age) in enumerate([("Role", "Minimum age"), ("Shelving assistant", "14"), ("Cashier", "16")]):
        table.rows[r].cells[0].text, table.rows[r].cells[1].text = role, age
    d.add_paragraph("Ask the store manager for details.")
    path = tmp_path / "rules.docx"
    d.save(str(path))
    text = loader_for(path).load(path).text
    assert text.split("\n") == [
        "Staff Rules",
        "The minimum ages for each role are listed below.",
        "Role: Shelving assistant · Minimum age: 14",
        "Role: Cashier · Minimum age: 16",
        "Ask the store manager for details.",
    ]
    blocks = parse_blocks(text)
    assert [b.kind for b in blocks] == ["heading", "para", "row", "row", "para"]
    assert blocks[2].group == blocks[3].group >= 0


def test_html_table_rows_with_and_without_th(tmp_path: Path) -> None:
    page = tmp_path / "plans.html"
    page.write_text(
        "<html><head><title>Plans</title></head><body><article><h1>Plans and prices</h1>"
        "<p>We offer three plans for teams of every size, billed monthly.</p><p>The plans compare as follows:</p>"
        "<table><thead><tr><th>Plan</th><th>Price</th><th>Seats</th></tr></thead><tbody>"
        "<tr><td>Basic</td><td>9</td><td>1</td></tr><tr><td>Team</td><td>29</td><td>5</td></tr>"
        "<tr><td>Enterprise</td><td>99</td><td>50</td></tr></tbody></table>"
        "<h2>Minimum ages</h2><table><tr><td>Role</td><td>Minimum age</td></tr>"
        "<tr><td>Shelving assistant</td><td>14</td></tr><tr><td>Cashier</td><td>16</td></tr></table>"
        "<p>Ask the store manager for details.</p></article></body></html>",
        encoding="utf-8",
    )
    text = loader_for(page).load(page).text
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    assert "Plan: Basic · Price: 9 · Seats: 1" in lines and "Plan: Enterprise · Price: 99 · Seats: 50" in lines
    assert "Role: Cashier · Minimum age: 16" in lines
    assert not any(line.startswith("|") for line in lines)  # header not repeated, no pipe rows left


# --- chunking ---------------------------------------------------------------------------------------------
def _chunks(text: str, tokens: int) -> list[Chunk]:
    splitter = make_splitter(ChunkerConfig(tokens=tokens, overlap=2), _words)
    return chunk_text(text, "/d.txt", splitter)


def test_chunks_break_before_headings_and_keep_a_list_with_its_intro() -> None:
    text = (
        "Bridge Report\n" + REPORT + "\n" + "Traffic Measures\n" + TRAFFIC + "\n"
        "The council asks for four things:\n- monthly checks of all hangers\n- a new drain\n- a quarterly report\n"
        "- a public meeting about the detour\n"
    )
    chunks = _chunks(text, 60)
    for c in chunks:
        assert c.text == text[c.start : c.end]
        blocks = decode_blocks(c.metadata["blocks"], c.start)
        assert blocks[-1].kind != "heading"  # a heading never ends a chunk
        for b in blocks:
            assert c.start <= b.start < b.end <= c.end
    starts = [c.text.split("\n")[0] for c in chunks]
    assert starts == ["Bridge Report", "Traffic Measures", "The council asks for four things:"]
    last = chunks[-1]
    kinds = [b.kind for b in decode_blocks(last.metadata["blocks"])]
    assert kinds == ["para", "item", "item", "item", "item"]
    assert json.loads(last.metadata["intros"]) == {"0": "The council asks for four things:"}


def test_a_long_list_spans_chunks_and_each_keeps_its_intro() -> None:
    items = "\n".join(f"{n}. Inspect hanger number {n} on the north side of the deck." for n in range(1, 13))
    text = f"Inspection Plan\nThe crews will inspect the hangers in this order:\n{items}\n"
    chunks = _chunks(text, 50)
    assert len(chunks) >= 3
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert json.loads(c.metadata["intros"]) == {"0": "The crews will inspect the hangers in this order:"}
    assert chunks[0].text.startswith("Inspection Plan\nThe crews will inspect")


def test_a_paragraph_longer_than_a_chunk_is_split_at_sentences_heading_first() -> None:
    text = "Long Section\n" + " ".join(f"Sentence number {n} says something about the bridge." for n in range(30))
    chunks = _chunks(text, 40)
    assert len(chunks) > 3 and chunks[0].text.startswith("Long Section\nSentence number 0")
    for c in chunks:
        assert c.text == text[c.start : c.end] and _words(c.text) <= 40
        assert c.text.rstrip().endswith(".")


# --- a real ingest ----------------------------------------------------------------------------------------
def _make_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 10, "Harbour Bridge Inspection", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(
        0,
        7,
        "The 2024 inspection of the Harbour Bridge found corrosion on 14 of the 96 steel hangers that connect the\n"
        "deck to the main cables. Engineers recommended that the worst six be replaced within two years and that "
        "the rest be checked every year. The report also asks for better drain-\nage on the east approach.",
    )
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 10, "Traffic Measures", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 7, TRAFFIC)
    pdf.add_page()
    pdf.multi_cell(
        0,
        7,
        "The measures will be reviewed in autumn. The city council published the following recommendations:\n"
        "1. Replace the six worst hangers.\n2. Inspect the remaining hangers every year.\n"
        "3. Improve the drainage on the east approach.",
    )
    path.write_bytes(bytes(pdf.output()))
    return path


@pytest.fixture(scope="module")
def structured_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, Path]]:
    """A temp index of a PDF, `.txt` files wrapped at 60 and 80 columns, a DOCX and an HTML table."""
    import docx

    from ingest.indexer import ingest

    folder = tmp_path_factory.mktemp("docs")
    files = {"pdf": _make_pdf(folder / "bridge.pdf")}
    for width in (60, 80):
        body = f"Bridge Report\n\n{textwrap.fill(REPORT, width)}\n\n{textwrap.fill(TRAFFIC, width)}\n"
        files[f"txt{width}"] = folder / f"wrapped{width}.txt"
        files[f"txt{width}"].write_text(body, encoding="utf-8")
    d = docx.Document()
    d.add_heading("Staff Rules", level=1)
    d.add_paragraph("The minimum ages for each role are listed below.")
    table = d.add_table(rows=3, cols=2)
    for r, (role, age) in enumerate([("Role", "Minimum age"), ("Shelving assistant", "14"), ("Cashier", "16")]):
        table.rows[r].cells[0].text, table.rows[r].cells[1].text = role, age
    files["docx"] = folder / "rules.docx"
    d.save(str(files["docx"]))
    files["html"] = folder / "plans.html"
    files["html"].write_text(
        "<html><body><article><h1>Plans and prices</h1><p>We offer three plans, billed monthly.</p>"
        "<p>The plans compare as follows:</p><table><tr><th>Plan</th><th>Price</th><th>Seats</th></tr>"
        "<tr><td>Basic</td><td>9</td><td>1</td></tr><tr><td>Team</td><td>29</td><td>5</td></tr></table>"
        "</article></body></html>",
        encoding="utf-8",
    )
    settings = Settings(index=tmp_path_factory.mktemp("structured") / "index")
    report = ingest([folder], settings, progress=False)
    assert report.count("added") == len(files), report.results
    return settings, files


def _stored(settings: Settings, path: Path) -> tuple[str, list[Chunk]]:
    from rag.index import Index

    chunks = sorted(Index.open(settings.index).chunks_of(str(path.resolve())), key=lambda c: c.start)
    return normalize(loader_for(path).load(path).text), chunks


@pytest.mark.slow
def test_every_stored_chunk_is_its_span_of_the_normalised_text(structured_index) -> None:
    settings, files = structured_index
    for name, path in files.items():
        text, chunks = _stored(settings, path)
        assert chunks, name
        for c in chunks:
            assert c.text == text[c.start : c.end], name
            for b in decode_blocks(c.metadata.get("blocks", ""), c.start):
                assert c.start <= b.start < b.end <= c.end


@pytest.mark.slow
def test_pdf_hard_wraps_and_hyphen_are_undone_after_ingest(structured_index) -> None:
    settings, files = structured_index
    _, chunks = _stored(settings, files["pdf"])
    sentences = [s for c in chunks for s in _sentence_texts(c.text)]
    assert any(HANGERS in s for s in sentences), sentences
    assert any("better drainage on the east approach." in s for s in sentences)
    assert chunks[0].metadata["section"] == "Harbour Bridge Inspection"
    heads = [
        c.text[b.start : b.end] for c in chunks for b in decode_blocks(c.metadata["blocks"]) if b.kind == "heading"
    ]
    assert heads == ["Harbour Bridge Inspection", "Traffic Measures"]  # a sentence's heading is the last one before it
    listed = next(c for c in chunks if "1. Replace" in c.text)
    assert json.loads(listed.metadata["intros"]) == {"0": "The city council published the following recommendations:"}
    assert [b.kind for b in decode_blocks(listed.metadata["blocks"])].count("item") == 3
    assert listed.metadata["page_end"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("width", [60, 80])
def test_wrapped_txt_gives_the_sentences_of_the_unwrapped_text(structured_index, width: int) -> None:
    settings, files = structured_index
    _, chunks = _stored(settings, files[f"txt{width}"])
    got = [s for c in chunks for s in _sentence_texts(c.text)]
    assert got == ["Bridge Report", *_sentence_texts(REPORT), *_sentence_texts(TRAFFIC)]
    assert chunks[0].metadata["section"] == "Bridge Report"


@pytest.mark.slow
def test_docx_and_html_tables_are_rows_with_header_labels(structured_index) -> None:
    settings, files = structured_index
    _, chunks = _stored(settings, files["docx"])
    whole = "\n".join(c.text for c in chunks)
    assert "Role: Shelving assistant · Minimum age: 14" in whole and "Role: Cashier · Minimum age: 16" in whole
    assert chunks[0].metadata["section"] == "Staff Rules"
    assert json.loads(chunks[0].metadata["intros"]) == {"0": "The minimum ages for each role are listed below."}
    _, chunks = _stored(settings, files["html"])
    rows = [c.text[b.start : b.end] for c in chunks for b in decode_blocks(c.metadata["blocks"]) if b.kind == "row"]
    assert rows == ["Plan: Basic · Price: 9 · Seats: 1", "Plan: Team · Price: 29 · Seats: 5"]
    assert chunks[0].metadata["section"] == "Plans and prices"


@pytest.mark.slow
def test_demo_corpus_date_sentence_is_whole_in_one_chunk(demo_index: Settings) -> None:
    from rag.index import Index

    chunks = [c for c in Index.open(demo_index.index).all_chunks() if "afternoon of April 25" in c.text]
    readout = [c for c in chunks if c.source.endswith("002_051ad646e9f7dedc.txt")]
    assert len(readout) == 1
    date = [s for s in _sentence_texts(readout[0].text) if "afternoon of April 25" in s]
    assert len(date) == 1 and "held its 20th collective study session" in date[0]
    assert readout[0].metadata["section"].startswith("At the 20th Collective Study Session")
