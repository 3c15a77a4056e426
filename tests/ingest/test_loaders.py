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


def test_noise_capture_keeps_to_the_loading_thread(recwarn: pytest.WarningsRecorder) -> None:
    """In `serve` another thread logs and warns while a file loads: none of it becomes that file's reason."""
    import logging
    import threading
    import warnings

    from ingest.loaders import captured_noise

    inside, done = threading.Event(), threading.Event()

    def other_thread() -> None:
        inside.wait(10)
        logging.getLogger("grounded.other").warning("a request from another user")
        warnings.warn("another thread's warning", UserWarning, stacklevel=1)
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with captured_noise() as noise:
        logging.getLogger("pypdf").warning("EOF marker not found")
        inside.set()
        assert done.wait(10)
        warnings.warn("incorrect startxref pointer", UserWarning, stacklevel=1)
    worker.join()
    assert noise == ["EOF marker not found", "incorrect startxref pointer"]
    assert "another thread's warning" in [str(w.message) for w in recwarn]  # passed on, not swallowed
