"""Shared helpers for `ui.html`: escaping, number formatting and reading the answer's trace."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _e(value: Any) -> str:
    """Escaped text for element content or an attribute value; newlines kept as character references."""
    text = "" if value is None else str(value)
    return html.escape(text, quote=True).replace("\r\n", "&#10;").replace("\n", "&#10;").replace("\r", "&#10;")


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return _e(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _file_name(source: Any) -> str:
    return Path(str(source)).name if source else ""


def _trace(answer: Mapping[str, Any]) -> Mapping[str, Any]:
    t = answer.get("trace")
    return t if isinstance(t, Mapping) else {}


def _fused_hits(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    fused = _trace(answer).get("fused") or {}
    return list(fused.get("hits") or [])
