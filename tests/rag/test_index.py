"""The index's generations and integrity: swaps readers never see half of, no id deleted and re-added,
uploads that survive rebuilds, a serve that follows another process's ingest, and `grounded doctor`.
Real Chroma, real packaged MiniLM, temp folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import rag.index
from ingest.doctor import check, doctor, self_recall
from ingest.indexer import _plan, ingest, rebuild
from rag.errors import IngestError
from rag.index import COLLECTION, Index
from rag.pipeline import Pipeline
from rag.settings import Settings

pytestmark = pytest.mark.slow

EDITED = "003_fd9574b6fdd11b8b.txt"
MADE_UP_DOC = (
    "# Quillfeather Observatory\n\n"
    "The Quillfeather Observatory on Mount Varnholt was opened in 1987 by the astronomer Elsbeth Marrow.\n"
)


def state(root: Path) -> tuple[dict[str, list[str]], list[str], list[str] | None]:
    """Manifest documents -> chunk ids, the stored ids and the BM25 ids of an index folder."""
    index = Index.open(root)
    docs = {k: list(v.chunk_ids) for k, v in index.manifest.documents.items()}
    out = docs, sorted(index.stored_ids()), sorted(index.keyword_ids() or [])
    index.close()
    return out


# --- generations -------------------------------------------------------------------------------------------
def test_each_write_is_a_new_generation_and_only_two_are_kept(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    first = Index.open(settings.index).manifest
    assert (first.generation, first.data) == (1, "gen-000001")
    again = ingest([corpus_copy], settings, progress=False)  # nothing changed: nothing written
    assert again.count("unchanged") == 4 and Index.open(settings.index).manifest.generation == 1
    (corpus_copy / "new.md").write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([corpus_copy], settings, progress=False)
    edited = corpus_copy / EDITED
    edited.write_text(edited.read_text() + "\nThe zyxwvut sandbox pilot began in Shenzhen.\n")
    ingest([corpus_copy], settings, progress=False)
    assert Index.open(settings.index).manifest.generation == 3
    assert sorted(p.name for p in settings.index.glob("gen-*")) == ["gen-000002", "gen-000003"]
    assert check(settings.index).ok


def test_a_reader_keeps_its_generation_while_a_write_lands(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    reader = Index.open(settings.index)
    before = sorted(reader.stored_ids())
    assert not reader.changed_on_disk()
    (corpus_copy / "new.md").write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([corpus_copy], settings, progress=False)
    assert reader.changed_on_disk()
    assert sorted(reader.stored_ids()) == before  # the old generation is still whole for it
    assert len(Index.open(settings.index).stored_ids()) > len(before)


def test_adding_files_copies_the_collection_and_editing_starts_a_fresh_one(tmp_path: Path, corpus_copy: Path) -> None:
    """No id is ever deleted and then added again in one collection (Chroma bug #7758)."""
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    live = Index.open(settings.index)
    kept = live.manifest.chunk_ids
    stored = live.get_chunks(kept)
    # new chunks only: append to a copy of the live files
    assert not _plan(live, kept, [], live.collections).fresh
    # an edited document whose chunk moved keeps its id but not its offsets: fresh collection, copied in
    moved = stored[kept[0]]
    shifted = type(moved)(moved.id, moved.source, moved.start + 1, moved.end + 1, moved.text, moved.metadata)
    plan = _plan(live, kept[1:], [shifted], live.collections)
    assert plan.fresh and moved.id not in plan.reuse[COLLECTION]
    assert [c.id for c in plan.add[COLLECTION]] == [moved.id]
    # an orphan the ingest adds again is adopted, not deleted and re-added
    plan = _plan(live, kept[1:], [stored[kept[0]]], live.collections)
    assert not plan.fresh and kept[0] in plan.reuse[COLLECTION] and not plan.add[COLLECTION]


def test_edit_and_revert_rounds_leave_every_chunk_findable(tmp_path: Path, corpus_copy: Path) -> None:
    """The issue's 'three rounds of delete + re-add' measurement, on our write path: self-recall stays whole."""
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    clean = state(settings.index)
    edited = corpus_copy / EDITED
    original = edited.read_text()
    for n in range(3):
        edited.write_text(f"Round {n} preface about pandas.\n\n" + original)
        ingest([corpus_copy], settings, progress=False)
        edited.write_text(original)
        ingest([corpus_copy], settings, progress=False)
    assert state(settings.index) == clean
    report = check(settings.index)
    assert report.ok, report.lines()
    assert report.recall[0].found == report.chunks


def test_add_chunks_embeds_and_writes_in_bounded_groups(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.embeddings import load_embeddings

    emb = load_embeddings("all-MiniLM-L6-v2")
    sizes: list[int] = []
    real = type(emb).encode

    def spy(self, texts, **kw):  # type: ignore[no-untyped-def]
        sizes.append(len(texts))
        return real(self, texts, **kw)

    monkeypatch.setattr(rag.index, "ENCODE_GROUP", 7)
    monkeypatch.setattr(type(emb), "encode", spy)
    settings = Settings(index=tmp_path / "idx")
    report = ingest([corpus_copy], settings, progress=False)
    assert max(sizes) == 7 and sum(sizes) == report.total_chunks
    assert check(settings.index).ok


TUNNEL_DOC = (
    "# Varnholt rail tunnel\n\n"
    "The Varnholt rail tunnel connects the towns of Orrin and Castelmere under the mountain.\n"
)


@pytest.mark.parametrize("error", [KeyboardInterrupt, PermissionError])
def test_an_error_while_removing_old_generations_keeps_the_published_one(
    error: type[BaseException],
    tmp_path: Path,
    corpus_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C (or a failing rmtree) after the manifest swap must not delete the generation it now points at."""
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    (corpus_copy / "new.md").write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([corpus_copy], settings, progress=False)
    (corpus_copy / "tunnel.md").write_text(TUNNEL_DOC, encoding="utf-8")
    real_rmtree = shutil.rmtree

    def failing_rmtree(path: str | Path, *args: object, **kwargs: object) -> None:
        if Path(path).name == "gen-000001":  # the stale generation the third write's cleanup removes
            raise error()
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", failing_rmtree)
    if error is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            ingest([corpus_copy], settings, progress=False)
    else:
        report = ingest([corpus_copy], settings, progress=False)
        assert report.count("added") == 1
        assert "could not remove old index data" in capsys.readouterr().err
    monkeypatch.undo()

    index = Index.open(settings.index)
    assert index.manifest.data == "gen-000003" and index.data_dir.is_dir() and not index.fallback_from
    assert (settings.index / "gen-000001").is_dir()  # left behind for the next write
    answer = Pipeline.from_settings(settings).ask("What does the Varnholt rail tunnel connect?")
    assert "Castelmere" in answer.text
    assert check(settings.index).ok
    edited = corpus_copy / EDITED
    edited.write_text(edited.read_text() + "\nThe zyxwvut sandbox pilot began in Shenzhen.\n")
    ingest([corpus_copy], settings, progress=False)  # the next write retries the cleanup
    assert sorted(p.name for p in settings.index.glob("gen-*")) == ["gen-000003", "gen-000004"]


@pytest.mark.parametrize("own_copy", [True, False], ids=["generation-manifest", "older-layout"])
def test_a_missing_live_generation_falls_back_and_doctor_repairs_it(
    own_copy: bool, tmp_path: Path, corpus_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The manifest names a folder that is gone: open reads the newest complete generation, repair heals it."""
    settings = Settings(index=tmp_path / "idx")
    root = settings.index
    ingest([corpus_copy], settings, progress=False)
    (corpus_copy / "new.md").write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([corpus_copy], settings, progress=False)
    shutil.rmtree(root / "gen-000002")  # what the old commit's `discard()` did to a published generation
    if not own_copy:  # a generation written before generations kept their own manifest
        (root / "gen-000001" / "manifest.json").unlink()
    capsys.readouterr()

    index = Index.open(root)
    warning = capsys.readouterr().err
    assert index.data_dir == root / "gen-000001" and index.fallback_from == "gen-000002"
    assert warning.count("\n") == 1 and "gen-000002 is missing" in warning
    assert f"`grounded doctor --repair --index {root}`" in warning
    answer = Pipeline.from_settings(settings).ask("Who gave the lecture at the Politburo study session on AI?")
    assert not answer.abstained and answer.citations

    report = check(root)
    assert any("gen-000002, which is missing" in p for p in report.problems)
    report, actions = doctor(settings, fix=True)
    assert report.ok and actions, report.lines()
    index = Index.open(root)
    # the older layout listed new.md, whose chunks were only in the lost folder: repair re-ingested it
    assert not index.fallback_from and index.manifest.data == ("gen-000003" if own_copy else "gen-000004")
    assert (str((corpus_copy / "new.md").resolve()) in index.manifest.documents) is (not own_copy)
    ingest([corpus_copy], settings, progress=False)
    assert "Elsbeth Marrow" in Pipeline.from_settings(settings).ask("Who opened the Quillfeather Observatory?").text


# --- rebuilds keep what is stored ----------------------------------------------------------------------------
def test_uploads_survive_rebuilds_and_prune(pipeline: Pipeline, tmp_path: Path) -> None:
    from ui.app import ChatService

    root = tmp_path / "index"
    shutil.copytree(pipeline.settings.index, root)
    service = ChatService(pipeline.reopened(root))
    upload = tmp_path / "observatory.md"
    upload.write_text(MADE_UP_DOC, encoding="utf-8")
    results = service.ingest_uploads([upload])
    assert [r["status"] for r in results] == ["added"]
    stored = root / "uploads" / "observatory.md"
    settings = service.pipeline.settings

    for _ in range(2):
        report = rebuild(None, settings, progress=False)
        assert report.count("added") == 5 and stored.is_file()
    report = ingest([stored], settings, prune=True, progress=False)
    assert report.count("removed") == 0 and report.total_documents == 5
    assert str(stored) in Index.open(root).manifest.documents
    # a rebuild naming other files still keeps the uploads
    report = rebuild(
        [Path(p) for p in Index.open(root).manifest.documents if "uploads" not in p][:1], settings, progress=False
    )
    assert {Path(r.path).name for r in report.results} >= {"observatory.md"}
    answer = Pipeline.from_settings(settings).ask("Who opened the Quillfeather Observatory?")
    assert "Elsbeth Marrow" in answer.text
    assert check(root).ok


def test_rebuild_errors_name_a_command_that_works(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    with pytest.raises(IngestError, match=r"no index at .* to rebuild: .*`grounded ingest --index .*idx PATH\.\.\.`"):
        rebuild(None, settings, progress=False)
    ingest([corpus_copy], settings, progress=False)
    shutil.rmtree(corpus_copy)
    with pytest.raises(IngestError, match=r"`grounded ingest --rebuild --index .*idx PATH\.\.\.`"):
        rebuild(None, settings, progress=False)
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.md").write_text(MADE_UP_DOC, encoding="utf-8")
    report = rebuild([other], settings, progress=False)  # the suggested command
    assert report.count("added") == 1 and report.total_documents == 1


# --- a running serve follows another writer ----------------------------------------------------------------
def test_pipeline_picks_up_an_ingest_done_elsewhere(pipeline: Pipeline, tmp_path: Path) -> None:
    root = tmp_path / "index"
    shutil.copytree(pipeline.settings.index, root)
    serving = pipeline.reopened(root)
    variant = serving.with_settings(top_k=3)
    question = "Who opened the Quillfeather Observatory?"
    before = serving.index.manifest.generation
    assert "Elsbeth Marrow" not in serving.ask(question).text
    doc = tmp_path / "observatory.md"
    doc.write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([doc], serving.settings, progress=False)  # another writer: its own Index objects
    answer = serving.ask(question)
    assert "Elsbeth Marrow" in answer.text and serving.index.manifest.generation == before + 1
    assert variant.index is serving.index  # variants follow too
    assert not serving.refresh()  # nothing new: one stat, no reopen


# --- doctor --------------------------------------------------------------------------------------------------
def test_doctor_finds_each_disagreement_and_repair_fixes_it(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    clean = state(settings.index)
    assert check(settings.index).ok
    live = Index.open(settings.index)
    lost = live.manifest.chunk_ids[:2]
    live.collection().delete(ids=lost)  # damage the live generation behind the writer's back
    bm25 = live.data_dir / "bm25" / "ids.json"
    bm25.write_text(json.dumps([*json.loads(bm25.read_text()), "not-a-chunk"]))
    live.close()

    report = check(settings.index)
    assert not report.ok
    assert any("2 chunks listed in the manifest are missing" in p for p in report.problems)
    assert any("keyword index (BM25)" in p for p in report.problems)
    assert all(f"`grounded doctor --repair --index {settings.index}`" in p for p in report.problems)

    report, actions = doctor(settings, fix=True)
    assert report.ok, report.lines()
    assert any("re-ingested 1 documents" in a for a in actions)
    assert state(settings.index) == clean


def test_self_recall_with_identical_boilerplate_chunks(tmp_path: Path) -> None:
    """200 files sharing one boilerplate paragraph: measure how many chunks their own vector finds."""
    folder = tmp_path / "notes"
    folder.mkdir()
    boiler = "This memo is confidential. Do not forward it outside the company without written approval."
    topics = ["pandas", "koalas", "otters", "lynxes", "herons", "badgers", "ibises", "tapirs"]
    for i in range(200):
        body = f"Note {i} is about {topics[i % 8]} seen near lake {i}: {i % 7 + 2} of them, counted at dawn."
        (folder / f"note{i:03d}.md").write_text(f"{body}\n\n{boiler}\n", encoding="utf-8")
    settings = Settings(index=tmp_path / "idx", chunk_tokens=24, chunk_overlap=0)
    ingest([folder], settings, progress=False)
    index = Index.open(settings.index)
    recall = self_recall(index, COLLECTION)
    twins = sum(c.text == boiler for c in index.all_chunks())
    print(f"\nboilerplate chunks {twins}; {recall.line()}; unreachable {len(recall.unreachable)}")
    assert twins >= 200 and recall.stored == index.manifest.chunk_count
    assert not recall.unreachable  # identical vectors: a twin comes first, nothing else is lost


def test_an_index_made_before_generations_is_read_then_migrated(tmp_path: Path, corpus_copy: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    root = settings.index
    for name in ("chroma", "bm25"):  # the old layout: data in the root, no generation in the manifest
        shutil.move(root / "gen-000001" / name, root / name)
    shutil.rmtree(root / "gen-000001")  # left: only the generation's own manifest copy
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["generation"], manifest["data"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    clean = state(root)
    assert check(root).ok

    (corpus_copy / "new.md").write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([corpus_copy], settings, progress=False)
    assert (root / "chroma").is_dir()  # kept one write longer, for readers that opened it
    edited = corpus_copy / EDITED
    edited.write_text(edited.read_text() + "\nThe zyxwvut sandbox pilot began in Shenzhen.\n")
    ingest([corpus_copy], settings, progress=False)
    assert not (root / "chroma").exists() and not (root / "bm25").exists()
    docs, ids, bm25 = state(root)
    assert set(clean[0]) < set(docs) and ids == bm25 and check(root).ok


def test_copy_index_copies_only_the_live_generation(tmp_path: Path, corpus_copy: Path) -> None:
    from rag.index import copy_index

    settings = Settings(index=tmp_path / "idx")
    ingest([corpus_copy], settings, progress=False)
    (corpus_copy / "new.md").write_text(MADE_UP_DOC, encoding="utf-8")
    ingest([corpus_copy], settings, progress=False)  # two generations on disk now
    dest = copy_index(settings.index, tmp_path / "copy")
    assert sorted(p.name for p in dest.iterdir()) == ["gen-000002", "manifest.json"]
    assert state(dest) == state(settings.index) and check(dest).ok


def test_an_old_style_killed_first_ingest_is_repaired_by_the_command_its_error_names(
    tmp_path: Path, corpus_copy: Path
) -> None:
    """Before generations, a killed first ingest left a manifest with no documents, orphan chunks and no BM25."""
    import re

    from rag.embeddings import load_embeddings
    from rag.errors import IndexMismatchError
    from rag.index import Manifest

    root = tmp_path / "idx"
    settings = Settings(index=root)
    ingest([corpus_copy], settings.with_overrides(index=tmp_path / "donor"), progress=False)
    donor = Index.open(tmp_path / "donor")
    old = Index(root, Manifest("all-MiniLM-L6-v2", 384, donor.manifest.chunker), load_embeddings("all-MiniLM-L6-v2"))
    root.mkdir()
    old.add_chunks(donor.all_chunks()[:5])  # orphans in root/chroma
    old.close()
    old.manifest.save(root / "manifest.json")

    with pytest.raises(IndexMismatchError) as err:
        Pipeline.from_settings(settings).ask("Who gave the lecture?")
    fix = re.search(r"`grounded doctor --repair --index (\S+)`", str(err.value))
    assert fix and fix.group(1) == str(root)
    report, actions = doctor(settings, fix=True)
    assert report.ok and actions, report.lines()
    assert Pipeline.from_settings(settings).ask("Who gave the lecture?").abstained
    ingest([corpus_copy], settings, progress=False)
    assert check(root).ok and Index.open(root).manifest.chunk_count == donor.manifest.chunk_count
