"""Ingest against a real Chroma and the real packaged embedding model."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.doctor import check
from ingest.indexer import ingest, rebuild
from ingest.normalize import normalize
from rag.errors import IndexMismatchError, IngestError
from rag.index import Index
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.conftest import clean_env

pytestmark = pytest.mark.slow


def _state(root: Path) -> tuple[str, list[str]]:
    index = Index.open(root)
    manifest = json.loads((root / "manifest.json").read_text())
    docs = {k: (v["content_hash"], v["chunk_ids"]) for k, v in manifest["documents"].items()}
    return json.dumps(docs, sort_keys=True), sorted(index.store.get(include=[])["ids"])


def test_demo_ingest_offsets_point_at_source_text(demo_index: Settings) -> None:
    index = Index.open(demo_index.index)
    chunks = index.all_chunks()
    assert len(index.manifest.documents) == 4
    assert len(chunks) == index.manifest.chunk_count > 4
    for c in chunks:  # the stored text is the source's, normalised at the same length (ingest.normalize)
        assert normalize(Path(c.source).read_text(encoding="utf-8"))[c.start : c.end] == c.text
    assert index.manifest.embedding_model == "all-MiniLM-L6-v2"
    assert index.manifest.chunker == {"tokens": 200, "overlap": 24, "splitter": "structure-v2"}


def test_chunks_fit_the_model_window(demo_index: Settings) -> None:
    from rag.embeddings import load_embeddings

    emb = load_embeddings(demo_index.embedding_model)
    for c in Index.open(demo_index.index).all_chunks():
        assert emb.count_tokens(c.text) <= demo_index.chunk_tokens + 8  # merge rounding; window is 256


def test_second_ingest_changes_nothing(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    first = ingest([corpus_copy], settings, progress=False)
    assert first.count("added") == 4
    before = _state(settings.index)
    again = ingest([corpus_copy], settings, progress=False)
    assert again.count("unchanged") == 4 and again.count("added") == again.count("replaced") == 0
    assert _state(settings.index) == before


def test_edited_file_replaces_only_its_chunks(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    old = Index.open(settings.index).manifest.documents
    edited = corpus_copy / "003_fd9574b6fdd11b8b.txt"
    edited.write_text(edited.read_text() + "\nThe zyxwvut sandbox pilot began in Shenzhen.\n")

    report = ingest([corpus_copy], settings, progress=False)

    assert {Path(r.path).name: r.status for r in report.results} == {
        "000_eb440050df25cd3d.txt": "unchanged",
        "001_9f71eeb0c68450ea.txt": "unchanged",
        "002_051ad646e9f7dedc.txt": "unchanged",
        "003_fd9574b6fdd11b8b.txt": "replaced",
    }
    index = Index.open(settings.index)
    new = index.manifest.documents
    for key in old:
        if key != str(edited.resolve()):
            assert new[key].chunk_ids == old[key].chunk_ids
    assert new[str(edited.resolve())].chunk_ids != old[str(edited.resolve())].chunk_ids
    # the store holds exactly the manifest's chunks: nothing stale left behind
    assert sorted(index.store.get(include=[])["ids"]) == sorted(c for d in new.values() for c in d.chunk_ids)
    hits = index.keyword_search("zyxwvut", 5)
    assert hits and index.get_chunks([hits[0][0]])[hits[0][0]].source == str(edited.resolve())


def test_prune_removes_deleted_documents(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    gone = corpus_copy / "001_9f71eeb0c68450ea.txt"
    gone_ids = Index.open(settings.index).manifest.documents[str(gone.resolve())].chunk_ids
    gone.unlink()
    report = ingest([corpus_copy], settings, prune=True, progress=False)
    assert report.count("removed") == 1 and report.total_documents == 3
    index = Index.open(settings.index)
    assert not set(gone_ids) & set(index.store.get(include=[])["ids"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"   \n", "empty file"),
        ("binary.txt", b"\x00\x01\x02binary", "binary"),
        ("broken.pdf", b"%PDF-1.4 garbage", "not a readable PDF"),
    ],
)
def test_bad_file_is_skipped_with_reason_and_index_kept(
    tmp_path: Path, corpus_copy: Path, name: str, content: bytes, message: str
) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    before = _state(settings.index)
    (corpus_copy / name).write_bytes(content)
    report = ingest([corpus_copy], settings, progress=False)
    skipped = [r for r in report.results if r.status == "skipped"]
    assert [Path(r.path).name for r in skipped] == [name] and message in skipped[0].reason
    assert report.count("unchanged") == 4
    assert _state(settings.index) == before


def test_folder_with_good_and_bad_files(tmp_path: Path) -> None:
    from tests.ingest.test_formats import make_docx, make_pdf

    folder = tmp_path / "mixed"
    folder.mkdir()
    make_pdf(folder / "good.pdf", ["Pandas eat bamboo for most of the day.", "Red pandas are not bears."], "Pandas")
    make_docx(folder / "good.docx")
    (folder / "good.md").write_text("# Notes\n\n## Koalas\n\nKoalas sleep up to twenty hours a day.\n")
    (folder / "latin1.txt").write_bytes("Le caf\xe9 cr\xe8me est servi chaud au petit d\xe9jeuner.".encode("latin-1"))
    make_pdf(folder / "locked.pdf", ["secret"], password="pw")
    (folder / "empty.txt").write_text("")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    settings = Settings(index=tmp_path / "idx")

    report = ingest([folder], settings, progress=False)

    status = {Path(r.path).name: (r.status, r.reason) for r in report.results}
    assert {n for n, (s, _) in status.items() if s == "added"} == {"good.pdf", "good.docx", "good.md", "latin1.txt"}
    assert "password-protected" in status["locked.pdf"][1]
    assert "empty file" in status["empty.txt"][1]
    assert "unsupported file type .jpg" in status["photo.jpg"][1]
    index = Index.open(settings.index)
    chunks = {Path(c.source).name: c for c in index.all_chunks()}
    assert chunks["good.pdf"].metadata["page"] == 1 and chunks["good.pdf"].metadata["title"] == "Pandas"
    assert chunks["good.md"].metadata["section"] in {"Notes", "Koalas"}
    assert "café crème" in chunks["latin1.txt"].text
    assert index.manifest.documents[str((folder / "latin1.txt").resolve())].metadata["encoding"] == "cp1252"


def test_nothing_readable_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_text("")
    settings = Settings(index=tmp_path / "idx")
    with pytest.raises(IngestError, match=r"nothing to ingest: empty\.md: empty file"):
        ingest([tmp_path / "empty.md"], settings, progress=False)
    assert not Index.exists(settings.index)


def test_missing_path_and_unsupported_type(tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest([tmp_path / "nope"], settings, progress=False)
    odd = tmp_path / "x.xyz"
    odd.write_text("hello")
    with pytest.raises(IngestError, match=r"unsupported file type \.xyz"):
        ingest([odd], settings, progress=False)
    assert not Index.exists(settings.index)


def test_other_chunker_refused_then_rebuilt(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    before = _state(settings.index)
    other = settings.with_overrides(chunk_tokens=120)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        ingest([corpus_copy], other, progress=False)
    assert _state(settings.index) == before
    report = rebuild(None, other, progress=False)
    assert report.count("added") == 4
    index = Index.open(settings.index)
    assert index.manifest.chunker["tokens"] == 120
    assert index.manifest.chunk_count > len(before[1])
    assert not (tmp_path / "idx.rebuild").exists() and not (tmp_path / "idx.old").exists()


def test_other_embedding_model_refused(demo_index: Settings) -> None:
    index = Index.open(demo_index.index)
    with pytest.raises(IndexMismatchError, match="embedding model"):
        index.check_compatible("some-other-model")


GROUNDED = Path(sys.executable).parent / "grounded"
UPLOADED = "# Quillfeather Observatory\n\nThe Quillfeather Observatory was opened in 1987 by Elsbeth Marrow.\n"


def _damage(root: Path, how: str) -> None:
    """Break the index the way `how` says: an unreadable manifest, another format, or no data folder left."""
    manifest = root / "manifest.json"
    if how == "unreadable":
        manifest.write_text('{"embedding_model": "all-MiniLM', encoding="utf-8")
    elif how == "format":
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": 99}), encoding="utf-8")
    else:
        for gen in root.glob("gen-*"):
            shutil.rmtree(gen)


@pytest.mark.parametrize("how", ["unreadable", "format", "no-data"])
def test_a_broken_index_is_fixed_by_the_command_its_error_names(how: str, tmp_path: Path, corpus_copy: Path) -> None:
    """The suggested `grounded ingest --rebuild --index X PATH...` works without a readable old manifest."""
    settings = Settings(index=tmp_path / "idx")
    root = settings.index
    upload = root / "uploads" / "observatory.md"
    upload.parent.mkdir(parents=True)
    upload.write_text(UPLOADED, encoding="utf-8")
    ingest([corpus_copy, upload], settings, progress=False)
    _damage(root, how)

    with pytest.raises(IndexMismatchError) as err:
        Pipeline.from_settings(settings).ask("Who opened the Quillfeather Observatory?")
    fix = re.search(r"`(grounded ingest --rebuild --index (\S+) PATH\.\.\.)`", str(err.value))
    assert fix and fix.group(2) == str(root), str(err.value)
    command = fix.group(1).replace("PATH...", str(corpus_copy)).split()
    run = subprocess.run(
        [str(GROUNDED), *command[1:3], "-q", *command[3:]], capture_output=True, text=True, env=clean_env(), timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert "holds 5 documents" in run.stdout and upload.is_file()  # the upload was kept and indexed again
    pipeline = Pipeline.from_settings(settings)
    assert "Elsbeth Marrow" in pipeline.ask("Who opened the Quillfeather Observatory?").text
    assert not pipeline.ask("Who gave the lecture at the Politburo study session on AI?").abstained
    assert check(root).ok


def test_rebuild_without_paths_rereads_uploads_when_the_manifest_is_unreadable(tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    root = settings.index
    upload = root / "uploads" / "observatory.md"
    upload.parent.mkdir(parents=True)
    upload.write_text(UPLOADED, encoding="utf-8")
    ingest([upload], settings, progress=False)
    _damage(root, "unreadable")
    report = rebuild(None, settings, progress=False)
    assert report.count("added") == 1 and report.total_documents == 1
    assert "Elsbeth Marrow" in Pipeline.from_settings(settings).ask("Who opened the Quillfeather Observatory?").text
    shutil.rmtree(root / "uploads")
    _damage(root, "unreadable")
    with pytest.raises(IndexMismatchError, match=r"`grounded ingest --rebuild --index \S+ PATH\.\.\.`"):
        rebuild(None, settings, progress=False)  # nothing to re-read: the error names the files to give
