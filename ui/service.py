"""The app's work, independent of Gradio: answers, sources, documents, uploads, teaching mode.

`ChatService(pipeline)` is what `ui.app.build_app` lays out (and what tests call directly);
`ui.app` re-exports it, so `from ui.app import ChatService` keeps working.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rag.errors import GroundedError, IngestError
from rag.index import copy_index
from rag.pipeline import Pipeline
from rag.types import Answer, Generation
from ui.render import source_html
from ui.uploads import UploadJob, uploads_dir

MAX_SCRATCH = 8  # failure-demo copies of the index kept at once (one per browser session)
TEACHING_DIR = Path(__file__).resolve().parent / "teaching"
FAILURE_DEMOS = {
    "distractor": (TEACHING_DIR / "distractor.txt", "a plausible document with wrong facts"),
    "injection": (TEACHING_DIR / "injection.txt", 'a document that says "ignore your instructions and …"'),
}


@dataclass
class Scratch:
    """One browser session's failure demo: a scratch copy of the index with a prepared document in it."""

    folder: tempfile.TemporaryDirectory[str]
    kind: str
    pipeline: Pipeline | None = None  # the scratch index opened once, reused for every ask of the session

    @property
    def root(self) -> Path:
        return Path(self.folder.name) / "index"


class ChatService:
    """The app's work, independent of Gradio: answers, sources, documents, uploads, teaching mode.

    >>> service = ChatService(Pipeline.from_settings(Settings()))
    >>> service.ask_json("Who gave the lecture at the Politburo study session on AI?")["answer"]
    "Comrade Zheng Nanning (郑南宁), a professor at Xi'an Jiaotong University, gave … [2]"
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._variants: dict[tuple[str, int, str], Pipeline] = {}
        self._lock = threading.Lock()
        self._scratch: dict[str, Scratch] = {}  # browser session hash -> its failure demo
        self._upload_lock = threading.Lock()  # one upload batch at a time
        self._upload: UploadJob | None = None

    # --- answering -------------------------------------------------------------------------------
    def variant(self, generator: str | None = None, top_k: int | None = None, policy: str | None = None) -> Pipeline:
        """The pipeline with the generator, top-k and policy chosen in the UI (models loaded once)."""
        s = self.pipeline.settings
        key = (generator or s.generator, int(top_k or s.top_k), policy or s.verify_policy)
        with self._lock:
            if key not in self._variants:
                self._variants[key] = self.pipeline.with_settings(generator=key[0], top_k=key[1], verify_policy=key[2])
            return self._variants[key]

    def stream(
        self,
        question: str,
        history: Sequence[str] = (),
        generator: str | None = None,
        top_k: int | None = None,
        policy: str | None = None,
    ) -> Iterator[Generation | Answer]:
        """Partial generations while the model writes, then the checked answer."""
        yield from self.variant(generator, top_k, policy).stream(question, history)

    def ask_json(
        self,
        question: str,
        include_trace: bool = False,
        history: Sequence[str] = (),
        generator: str | None = None,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        """The `grounded ask --json` object for a question (the `/ask` endpoint)."""
        return self.variant(generator, top_k).ask(question, history).to_dict(include_trace=include_trace)

    # --- what a client may see of server paths -------------------------------------------------------
    def display_name(self, path: str | Path) -> str:
        """A document's name for clients: relative to the uploads folder, else the file name (never a server path)."""
        p = Path(path)
        try:
            return p.relative_to(uploads_dir(self.pipeline.settings)).as_posix()
        except ValueError:
            return p.name

    def public(self, data: Any) -> Any:
        """`data` (an answer object, rows) with every server path of an indexed document replaced by its name."""
        paths = {path: self.display_name(path) for path in self.pipeline.index.manifest.documents}
        root = str(self.pipeline.settings.index)

        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [walk(v) for v in value]
            if isinstance(value, str):
                if value in paths:
                    return paths[value]
                if root in value or any(p in value for p in paths if len(value) > len(p)):
                    for p, name in sorted(paths.items(), key=lambda kv: -len(kv[0])):
                        value = value.replace(p, name)
                    return value.replace(root, "<index>")
            return value

        return walk(data)

    # --- sources ---------------------------------------------------------------------------------
    def source(self, answer: dict[str, Any], n: int) -> str:
        """The source panel for chip [n] of an answer: the passage highlighted inside its document."""
        item = next((c for c in answer.get("citations", []) if c["n"] == n), None)
        if item is None:
            hits = answer.get("trace", {}).get("fused", {}).get("hits", [])
            item = hits[n - 1] if 0 < n <= len(hits) else None
        if item is None:
            return source_html(answer, n)
        context, start = document_context(item["source"], item["start"], item["end"])
        return source_html(self.public(answer), n, context, start)

    # --- documents -------------------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        """What the index holds: one row per document, named for clients (no server paths)."""
        self.pipeline.refresh()  # another process may have ingested since
        rows = []
        uploads = uploads_dir(self.pipeline.settings)
        for path, rec in sorted(self.pipeline.index.manifest.documents.items()):
            p = Path(path)
            rows.append(
                {
                    "name": self.display_name(path),
                    "where": "uploaded" if p.is_relative_to(uploads) else "ingested on the server",
                    "chunks": len(rec.chunk_ids),
                    "ingested": rec.ingested_at,
                    "size": p.stat().st_size if p.is_file() else None,
                }
            )
        return rows

    def start_upload(self, files: Sequence[str | Path], temp_root: Path | None = None) -> UploadJob:
        """Check, store and (in the background) ingest uploaded files; poll the job for progress and results."""
        if not files:
            raise IngestError("no files: choose one or more files to upload")
        with self._upload_lock:
            if self._upload is not None and not self._upload.done:
                raise IngestError("another upload is being ingested: wait for it to finish, then try again")
            self._upload = UploadJob.start(files, self.pipeline.settings, temp_root, on_done=self._reopen)
            return self._upload

    def ingest_uploads(self, files: Sequence[str | Path], temp_root: Path | None = None) -> list[dict[str, Any]]:
        """Copy uploaded files into the index's `uploads/` folder, ingest them, reopen the index (waits)."""
        job = self.start_upload(files, temp_root)
        job.wait()
        return job.results

    def _reopen(self) -> None:
        """After an upload: follow the new generation (the pipeline and its variants share it; the generation
        before last is closed, so no Chroma client of a deleted generation stays open)."""
        self.pipeline.refresh()
        document_context.cache_clear()

    # --- teaching mode ---------------------------------------------------------------------------
    def closed_book(self, question: str, generator: str | None = None) -> Iterator[Generation]:
        """The LLM's answer with no passages (what it says from memory)."""
        llm = self.variant(llm_name(generator or self.pipeline.settings.generator)).generator
        if not hasattr(llm, "closed_book"):
            raise GroundedError(f"the {llm.name} generator cannot answer without passages: choose an LLM")
        yield from llm.closed_book(question)  # type: ignore[attr-defined]

    def add_failure_demo(self, kind: str, session: str = "") -> str:
        """Copy the index to a scratch folder for this browser `session` and add a prepared document to the copy
        (the main index and every other session are untouched)."""
        from ingest.indexer import ingest

        path, _ = FAILURE_DEMOS[kind]
        self.remove_failure_demo(session)
        with self._lock:
            if len(self._scratch) >= MAX_SCRATCH:
                raise GroundedError(
                    f"{MAX_SCRATCH} failure demos are open in other sessions: try again in a few minutes"
                )
        folder = tempfile.TemporaryDirectory(prefix="grounded-scratch-")
        scratch = Scratch(folder, kind)
        root = Path(self.pipeline.settings.index).expanduser()
        try:
            _copy_live_generation(root, scratch.root)
            ingest([path], self.pipeline.settings.with_overrides(index=scratch.root), progress=False)
        except BaseException:
            folder.cleanup()
            raise
        with self._lock:
            self._scratch[session] = scratch
        return str(scratch.root)

    def remove_failure_demo(self, session: str = "") -> None:
        """Drop this session's scratch copy (and with it the prepared document)."""
        with self._lock:
            scratch = self._scratch.pop(session, None)
        if scratch is not None:
            if scratch.pipeline is not None:
                scratch.pipeline.index.close()  # release its Chroma client before the folder goes
                scratch.pipeline = None
            scratch.folder.cleanup()

    def failure_demo(self, session: str = "") -> str | None:
        """The failure demo this session has added, if any."""
        scratch = self._scratch.get(session)
        return scratch.kind if scratch else None

    def scratch_pipeline(self, generator: str | None = None, top_k: int | None = None, session: str = "") -> Pipeline:
        """The chosen pipeline over this session's scratch copy (or the main index when it has no demo)."""
        base = self.variant(generator, top_k)
        scratch = self._scratch.get(session)
        if scratch is None:
            return base
        if scratch.pipeline is None:
            scratch.pipeline = base.reopened(scratch.root)
        opened = scratch.pipeline  # the chosen settings and generator over the session's opened scratch index
        return Pipeline(
            base.settings.with_overrides(index=scratch.root),
            opened.index,
            opened.embeddings,
            base.generator,
            opened.stages,
        )

    def close(self) -> None:
        """Remove every session's scratch copy (the server is stopping)."""
        for session in list(self._scratch):
            self.remove_failure_demo(session)


def _copy_live_generation(root: Path, dest: Path, attempts: int = 3) -> None:
    """Copy the index's live generation (not uploads, older or half-written ones) to `dest`, retrying when a
    concurrent write swaps generations mid-copy; a GroundedError with the fix if it keeps failing."""
    for attempt in range(attempts):
        try:
            copy_index(root, dest)
            return
        except OSError as e:  # shutil.Error too: a writer removed the generation being copied
            shutil.rmtree(dest, ignore_errors=True)
            if attempt + 1 == attempts:
                why = e.strerror or str(e)[:200]
                raise GroundedError(
                    f"could not copy the index for the failure demo ({why}): another write kept changing it; "
                    "try again once the ingest has finished"
                ) from None
            time.sleep(0.2 * (attempt + 1))


def llm_name(generator: str) -> str:
    """The generator for "without retrieval": the chosen one if it is an LLM, else the packaged local model."""
    return generator if generator in ("local", "openai") else "local"


@lru_cache(maxsize=64)
def document_context(source: str, start: int, end: int, margin: int = 700) -> tuple[str | None, int]:
    """Document text around [start, end) and where it begins (None if the file can no longer be read)."""
    from ingest.loaders import loader_for
    from ingest.normalize import normalize

    path = Path(source)
    if not path.is_file():
        return None, 0
    try:
        text = normalize(loader_for(path).load(path).text)  # as the index stores it: the offsets are the same
    except Exception:  # unsupported or unreadable now: the panel still shows the stored passage
        return None, 0
    if end > len(text):
        return None, 0
    lo = max(0, start - margin)
    return text[lo : min(len(text), end + margin)], lo
