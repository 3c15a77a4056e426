"""rag/generators/plugins.py: any LangChain chat model, by entry point or by `package.module:factory`.

The plug-in is a real package, tests/plugin_pkg (LangChain's own `ChatOpenAI`, registered as the entry point
`myplugin` in `grounded.generators`), installed with pip into a temp folder. The end-to-end tests run
`grounded ask` in a subprocess with that folder on PYTHONPATH, so importlib.metadata finds its dist-info
and entry point, against the packaged SmolLM2 served by xllamacpp on 127.0.0.1 (as the `local` generator).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from rag.errors import ConfigError, GeneratorError
from rag.generators import check_available, load_generator
from rag.generators.llm import LocalServer, describe_failure, packaged_gguf, plugin_fixes
from rag.generators.plugins import entry_points, is_import_path
from rag.settings import Settings, build_settings
from tests.conftest import clean_env
from tests.rag.generators.test_llm import PASSAGES, QUESTION, closed_port

REPO = Path(__file__).resolve().parents[3]
GROUNDED = str(Path(sys.executable).with_name("grounded"))
LECTURE = "Who gave the lecture at the Politburo study session on AI?"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugin_pkg installed by pip into a temp folder (built from a copy, so the repo gets no build output)."""
    root = tmp_path_factory.mktemp("plugin")
    src = shutil.copytree(REPO / "tests" / "plugin_pkg", root / "src")
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [*pip, "--target", str(site), str(src)],
        check=True,
        env=clean_env(),
        timeout=300,
    )
    assert next(site.glob("grounded_test_plugin-*.dist-info")).is_dir()
    return site


@pytest.fixture
def installed(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plug-in importable and its entry point visible in this process."""
    monkeypatch.syspath_prepend(str(plugin_site))
    yield plugin_site
    for name in [m for m in sys.modules if m.startswith("grounded_test_plugin")]:
        del sys.modules[name]


class Failing(BaseChatModel):
    """A chat model whose provider raises something no one anticipated."""

    @property
    def _llm_type(self) -> str:
        return "failing"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        raise RuntimeError("the provider's SDK broke")


def failing_model() -> Failing:
    return Failing()


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("mypkg:make", True), ("my_pkg.models:Factory.build", True), ("mypkg", False), ("a:b:c", False), (":x", False)],
)
def test_is_import_path(name: str, expected: bool) -> None:
    assert is_import_path(name) is expected


def test_an_entry_point_name_is_accepted_and_listed(installed: Path) -> None:
    assert entry_points()["myplugin"].value == "grounded_test_plugin:make"
    assert build_settings(generator="myplugin").generator == "myplugin"
    with pytest.raises(ConfigError, match=r"choose one of extractive, local, openai, ollama, plug-ins: myplugin, or"):
        build_settings(generator="nosuch")


def test_without_the_package_the_name_is_refused_with_what_is_available() -> None:
    assert "myplugin" not in entry_points()
    with pytest.raises(ConfigError) as info:
        build_settings(generator="myplugin")
    assert (
        "unknown generator 'myplugin': choose one of extractive, local, openai, ollama, or package.module:factory"
        in (str(info.value))
    )


def test_an_import_path_to_a_missing_module_is_refused_when_settings_are_built() -> None:
    with pytest.raises(ConfigError, match=r"no module 'nosuch_pkg.models' can be imported: install its package"):
        build_settings(generator="nosuch_pkg.models:make")


def test_a_missing_factory_is_found_before_anything_runs(installed: Path) -> None:
    settings = build_settings(generator="grounded_test_plugin:nope")  # the module exists: valid settings
    with pytest.raises(ConfigError, match=r"'grounded_test_plugin' has no 'nope': check the name after ':'"):
        check_available(settings)


def test_a_factory_that_returns_no_chat_model(installed: Path) -> None:
    with pytest.raises(ConfigError, match=r"returned str, not a LangChain BaseChatModel"):
        load_generator(build_settings(generator="grounded_test_plugin:not_a_chat_model"), None)


def test_a_factory_that_raises_is_one_line(installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_PLUGIN_BASE_URL", raising=False)
    with pytest.raises(ConfigError) as info:
        load_generator(build_settings(generator="myplugin"), None)
    assert str(info.value) == (
        "generator 'myplugin': its factory raised KeyError: 'TEST_PLUGIN_BASE_URL': fix the plug-in or its settings"
    )


@pytest.mark.parametrize(
    "name", ["myplugin", "grounded_test_plugin:make", "grounded_test_plugin:make_without_settings"]
)
def test_the_plugin_becomes_a_chat_generator(installed: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("TEST_PLUGIN_BASE_URL", "http://127.0.0.1:9/v1")
    settings = build_settings(generator=name, llm_max_tokens=33)
    check_available(settings)
    gen = load_generator(settings, None)
    assert gen.name == name and gen.endpoint == "http://127.0.0.1:9/v1" and gen.model_name == "smollm2"
    assert gen.model.max_tokens == (33 if name != "grounded_test_plugin:make_without_settings" else 48)


# --- a plug-in's failures: one line naming it and the fix --------------------------------------


def test_a_plugin_whose_server_is_down(installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    monkeypatch.setenv("TEST_PLUGIN_BASE_URL", url)
    gen = load_generator(build_settings(generator="myplugin", llm_timeout=10), None)
    with pytest.raises(GeneratorError) as info:
        gen.generate(QUESTION, PASSAGES)
    assert str(info.value) == (
        f"generator 'myplugin' failed: cannot reach {url} (OpenAIConnectionError: Connection error.):"
        " check the server address the plug-in myplugin uses, and that the server is running"
    )


def test_an_unexpected_provider_exception() -> None:
    name = "tests.rag.generators.test_plugins:failing_model"
    gen = load_generator(build_settings(generator=name), None)
    assert gen.model_name == "Failing" and gen.endpoint == ""
    with pytest.raises(GeneratorError) as info:
        gen.generate(QUESTION, PASSAGES)
    assert str(info.value) == (
        f"generator '{name}' failed: RuntimeError: the provider's SDK broke: check the plug-in {name} and its server"
    )


class _Status(Exception):
    def __init__(self, text: str, status_code: int) -> None:
        super().__init__(text)
        self.status_code = status_code


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionError("refused"), "cannot reach http://h/v1 (ConnectionError: refused): check the server address"),
        (TimeoutError("slow"), "http://h/v1 did not answer in time (TimeoutError): raise GROUNDED_LLM_TIMEOUT"),
        (_Status("no", 401), "http://h/v1 rejected the credentials (401: no): check the API key the plug-in"),
        (_Status("no", 403), "http://h/v1 rejected the credentials (403: no): check the API key the plug-in"),
        (_Status("gone", 404), "http://h/v1 has no model 'm' or no chat endpoint (gone): check the model name"),
        (_Status("busy", 503), "http://h/v1 refused the request (503: busy): check the plug-in mypkg:make"),
    ],
)
def test_describe_failure(error: Exception, expected: str) -> None:
    message = describe_failure("mypkg:make", error, "http://h/v1", "m", plugin_fixes("mypkg:make"))
    assert message.startswith("generator 'mypkg:make' failed: " + expected)


# --- end to end: `grounded ask` with the installed plug-in over a real llama.cpp server ------------


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    """The packaged SmolLM2 behind an OpenAI-compatible server on 127.0.0.1; its /v1 URL."""
    server = LocalServer(packaged_gguf(), 2048, 2)
    yield server.url + "/v1"
    del server


def grounded(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in clean_env().items() if k not in ("OPENAI_API_KEY", "PYTHONPATH")}
    return subprocess.run([GROUNDED, *args], capture_output=True, text=True, timeout=300, env={**base, **env}, cwd=REPO)


@pytest.mark.slow
@pytest.mark.parametrize(("flag", "name"), [("--generator", "myplugin"), ("env", "grounded_test_plugin:make")])
def test_grounded_ask_with_the_plugin(
    plugin_site: Path, llama: str, demo_index: Settings, flag: str, name: str
) -> None:
    """An entry point by --generator, and the import path by GROUNDED_GENERATOR: the same prompt, check and trace."""
    env = {"PYTHONPATH": str(plugin_site), "TEST_PLUGIN_BASE_URL": llama}
    chosen = ["--generator", name] if flag == "--generator" else []
    if flag == "env":
        env["GROUNDED_GENERATOR"] = name
    args = ("ask", "--index", str(demo_index.index), "--json", "--trace", "--policy", "flag", *chosen, LECTURE)
    out = grounded(*args, **env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["generator"] == name
    trace = data["trace"]
    generation = trace["generation"]
    assert generation["kind"] == "llm" and generation["endpoint"] == llama and generation["model"] == "smollm2"
    assert [m["role"] for m in generation["messages"]] == ["system", "user"]
    assert '<passage id="1"' in generation["messages"][1]["content"] and LECTURE in generation["messages"][1]["content"]
    assert generation["completion_tokens"] > 0 and generation["raw"]
    assert trace["verification"], "the citation check ran on the plug-in's answer"
    assert data["abstained"] or all(f"[{c['n']}]" in data["answer"] for c in data["citations"])
    print(name, "→", data["answer"][:200])


@pytest.mark.slow
def test_grounded_ask_with_the_plugin_server_down(plugin_site: Path, demo_index: Settings) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = {"PYTHONPATH": str(plugin_site), "TEST_PLUGIN_BASE_URL": url, "GROUNDED_LLM_TIMEOUT": "10"}
    out = grounded("ask", "--index", str(demo_index.index), "--generator", "myplugin", LECTURE, **env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        f"grounded: error: generator 'myplugin' failed: cannot reach {url} (OpenAIConnectionError: Connection error.):"
        " check the server address the plug-in myplugin uses, and that the server is running"
    )


@pytest.mark.slow
def test_grounded_ask_without_the_plugin_installed_lists_what_is_available(demo_index: Settings) -> None:
    out = grounded("ask", "--index", str(demo_index.index), "--generator", "myplugin", LECTURE)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert (
        "unknown generator 'myplugin': choose one of extractive, local, openai, ollama, or package.module:factory"
        in (out.stderr)
    )
    assert len(out.stderr.strip().splitlines()) == 1
