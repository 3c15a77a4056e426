"""Keeping a long-running server's memory flat: the C heap, and what each chat session keeps.

Measured with `python -m eval.bench_serve` (20 sessions × 120 s × 3 rounds): the server's RSS grew
560 → 1,064 → 1,215 → 1,409 MB and did not level off. Python objects were not the cause: tracemalloc
over 320 in-process answers saw 0.4 MB of live Python allocations while RSS rose by 300 MB. glibc's
heap was. Each time it frees a large block it raises its mmap threshold (up to 32 MiB), after which
torch's activation buffers, whose sizes change with every question's length, come from per-thread
arenas that fragment and are never given back. A fixed threshold stops that: blocks of 64 KiB and more
are mmap'd and returned to the OS on free. In process (4 threads, 4 blocks of 80 answers), RSS went
776 → 1,217 → 1,309 → 1,337 → 1,391 MB by default and 704 → 783 → 806 → 814 → 814 MB with it, no
slower; MALLOC_ARENA_MAX=2 alone gave 768 → 1,122 → 1,158 MB, `malloc_trim` after each answer 839 MB.
Served, the same benchmark now gives 549 → 884 → 929 → 974 MB (+5.1%, +4.8% per round). Part of
what still grows is Gradio's per-session state, kept an hour after a tab closes: ~100 KB of config per
session (measured) plus what its events returned, ~0.3 MB for a 2-minute chat with `kept_answers`
(answers slimmed from 67 KB to 25 KB each): ~10 MB a round of 20 new sessions; the rest is not pinned down.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

MMAP_THRESHOLD = 64 * 1024  # bytes: larger blocks are mmap'd (and unmapped on free) instead of kept in arenas
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
KEPT_ANSWERS = 50  # per chat session: older answers keep only their query (for follow-ups)


def limit_heap_growth(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold so freed tensors go back to the OS; False where it does not apply.

    A no-op off glibc (musl, macOS) or when the user set MALLOC_MMAP_THRESHOLD_ themselves.

    >>> limit_heap_growth()   # once, at server start (`ui.app.launch` does it)
    True
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))


def session_answer(data: dict[str, Any]) -> dict[str, Any]:
    """What a chat session keeps of an answer (`Answer.to_dict(include_trace=True)`): enough to open its
    sources later (citations, the fused list) and to read follow-ups (the query); 25 KB instead of 67 KB."""
    trace = data.get("trace", {})
    return {
        "query": data.get("query", ""),
        "citations": data.get("citations", []),
        "trace": {"fused": trace.get("fused", {"hits": []})},
    }


def kept_answers(answers: list[dict[str, Any]], data: dict[str, Any]) -> list[dict[str, Any]]:
    """The session's answers with `data` appended; beyond the last KEPT_ANSWERS only queries stay
    (their chips then say the passage is gone), so one long conversation cannot grow without bound."""
    out = [*answers, session_answer(data)]
    cut = len(out) - KEPT_ANSWERS
    if cut > 0 and "citations" in out[cut - 1]:
        out[:cut] = [{"query": a.get("query", "")} for a in out[:cut]]
    return out
