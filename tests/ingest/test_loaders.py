from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import loader_for, supported_suffixes
from rag.errors import IngestError


def test_text_and_markdown(tmp_path: Path) -> None:
    md = tmp_path / "a.md"
    md.write_text("# Title here\n\nBody text.\r\nMore.", encoding="utf-8")
    doc = loader_for(md).load(md)
    assert doc.text == "# Title here\n\nBody text.\nMore."
    assert doc.metadata == {"title": "Title here", "format": "markdown", "encoding": "utf-8"}
    txt = tmp_path / "b.TXT"
    txt.write_bytes("\ufeffFirst line\nsecond".encode())
    assert loader_for(txt).load(txt).text == "First line\nsecond"  # BOM dropped


def test_registry_names_supported_types(tmp_path: Path) -> None:
    assert {".txt", ".md"} <= set(supported_suffixes())
    with pytest.raises(IngestError, match=r"supported are .*\.md.*\.txt"):
        loader_for(tmp_path / "a.pdfx")


def test_unreadable_file(tmp_path: Path) -> None:
    odd = tmp_path / "folder.txt"  # a directory with a text suffix cannot be read as a file
    odd.mkdir()
    with pytest.raises(IngestError, match="cannot read"):
        loader_for(odd).load(odd)
