"""The built wheel is complete: installed into a fresh venv (not editable), `grounded ask` and a teaching demo work."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from rag.settings import Settings
from tests.conftest import clean_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DEV_SCRIPTS = {
    "bench_ingest",
    "bench_serve",
    "bench_store",
    "tune_beir",
    "injection",
    "make_docs",
    "train_scorer",
    "scorer_compare",
}
LECTURE = "Who gave the lecture at the Politburo study session on AI?"


def _source_tree(dest: Path) -> Path:
    """A copy of the work tree without build output, so the build never writes into the repo."""
    ignore = shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "test-artifacts", ".*_cache", ".gradio", "runs"
    )
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only our wheel; the dependencies come from this venv's site-packages by a .pth line."""
    root = tmp_path_factory.mktemp("wheel")
    src = _source_tree(root / "src")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        check=True,
        env=clean_env(),
    )
    (wheel,) = dist.glob("grounded-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # A plain path line: this venv's .pth files (the editable finder among them) are not run from there.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        env=clean_env(),
    )
    return venv


def _in_venv(venv: Path, cwd: Path, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's programs outside the repo, with a clean environment."""
    return subprocess.run(
        [str(venv / "bin" / program), *args], capture_output=True, text=True, cwd=cwd, env=clean_env(), timeout=300
    )


def test_wheel_holds_every_package_and_data_file(wheel_venv: Path, tmp_path: Path) -> None:
    code = (
        "import rag, ui.app, ingest.indexer, eval.runner;"
        "from rag.settings import demo_corpus_dir; from ui.app import FAILURE_DEMOS;"
        "print(rag.__file__);"
        "print(len(list(demo_corpus_dir().glob('*.txt'))));"
        "print(all(p.is_file() for p, _ in FAILURE_DEMOS.values()))"
    )
    out = _in_venv(wheel_venv, tmp_path, "python", "-c", code)
    assert out.returncode == 0, out.stderr
    where, demo_files, teaching = out.stdout.split()
    assert Path(where).is_relative_to(wheel_venv), f"imported {where}, not the installed wheel"
    assert demo_files == "4" and teaching == "True"


def test_installed_wheel_answers_and_runs_a_teaching_demo(
    wheel_venv: Path, demo_index: Settings, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(demo_index.index, index)
    ask = _in_venv(wheel_venv, tmp_path, "grounded", "ask", "--index", str(index), LECTURE)
    assert ask.returncode == 0, ask.stderr
    assert "Zheng Nanning" in ask.stdout and re.search(r"\[\d+\]", ask.stdout)
    demo = (
        "import sys; from rag.pipeline import Pipeline; from rag.settings import Settings; from ui.app import ChatService;"
        "s = ChatService(Pipeline.from_settings(Settings(index=sys.argv[1])));"
        "s.add_failure_demo('distractor');"
        "print(s.scratch_pipeline().index.manifest.chunk_count > s.pipeline.index.manifest.chunk_count)"
    )
    out = _in_venv(wheel_venv, tmp_path, "python", "-c", demo, str(index))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"


def _declared_closure(requirements: list[str]) -> set[str]:
    """The distributions `requirements` bring in, transitively (extras' requirements left out)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize(req.name)
        if name in seen or (req.marker is not None and "extra" in str(req.marker)):
            continue
        seen.add(name)
        try:
            todo.extend(Requirement(r) for r in metadata.distribution(req.name).requires or [])
        except metadata.PackageNotFoundError:
            continue
    return seen


def canonicalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """The wheel's dependencies cover what the code imports (dev extras only for benchmark scripts)."""
    import ast
    import tomllib
    from importlib import metadata

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _declared_closure(project["dependencies"])
    with_dev = runtime | _declared_closure(project["optional-dependencies"]["dev"])
    ours = set(project.get("name", "").split()) | {"ingest", "rag", "ui", "eval", "tests"}
    owners = metadata.packages_distributions()
    missing = []
    for package in ("ingest", "rag", "ui", "eval"):
        for path in sorted((REPO / package).rglob("*.py")):
            # benchmark and measurement scripts (`python -m eval.X`) run from a dev install
            allowed = with_dev if path.parent.name == "eval" and path.stem in DEV_SCRIPTS else runtime
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    else []
                )
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in ours or top == "__future__":
                        continue
                    dists = {canonicalize(d) for d in owners.get(top, [top])}
                    if not dists & allowed:
                        missing.append(f"{path.relative_to(REPO)} imports {top} ({', '.join(sorted(dists))})")
    assert not missing, "not declared in pyproject.toml dependencies: " + "; ".join(sorted(set(missing)))
