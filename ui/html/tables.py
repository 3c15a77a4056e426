"""Rows for the app's tables: the index's documents (DOCUMENT_HEADERS) and per-file ingest results (INGEST_RESULT_HEADERS)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ui.html._util import _file_name, _int

DOCUMENT_HEADERS = ["Document", "Chunks", "Ingested", "Size", "From"]
INGEST_RESULT_HEADERS = ["File", "Status", "Chunks", "Reason"]


def _field(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def _when(value: Any) -> str:
    """An ISO time, epoch seconds or datetime as local 'YYYY-MM-DD HH:MM'; anything else as given."""
    if value is None or value == "":
        return ""
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            dt = datetime.fromtimestamp(value)
        except (OverflowError, OSError, ValueError):
            return str(value)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromtimestamp(float(text))
        except (OverflowError, OSError, ValueError):
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return text
    if dt.tzinfo is not None:
        dt = dt.astimezone()
    return dt.strftime("%Y-%m-%d %H:%M")


def _size(value: Any) -> str:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # unreachable


def _count(value: Any) -> int | str:
    n = _int(value)
    return n if n is not None else ("" if value is None else str(value))


def documents_rows(documents: Iterable[Any] | None) -> list[list[Any]]:
    """Rows [document, chunks, ingested, size, from] (DOCUMENT_HEADERS) from dicts
    {name, where?, chunks, ingested (ISO time or epoch), size?}; missing fields are blank.
    A `path` given without a name shows as its file name: a server path never reaches the table."""
    rows = []
    for d in documents or []:
        name = _field(d, "name") or _file_name(_field(d, "path") or _field(d, "source") or "")
        where = _field(d, "where") or ""
        rows.append(
            [str(name), _count(_field(d, "chunks")), _when(_field(d, "ingested")), _size(_field(d, "size")), str(where)]
        )
    return rows


def ingest_result_rows(results: Iterable[Any] | None) -> list[list[Any]]:
    """Rows [file, status, chunks, reason] (INGEST_RESULT_HEADERS) from dicts {path, status, chunks, reason}."""
    rows = []
    for r in results or []:
        path = _field(r, "path") or _field(r, "name") or ""
        rows.append(
            [
                _file_name(path) or str(path),
                str(_field(r, "status") or ""),
                _count(_field(r, "chunks")),
                str(_field(r, "reason") or ""),
            ]
        )
    return rows
