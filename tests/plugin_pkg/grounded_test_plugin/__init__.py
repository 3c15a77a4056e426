"""A grounded plug-in: LangChain's own `ChatOpenAI` at an OpenAI-compatible server (the tests' llama.cpp).

Registered as the entry point `myplugin` in the group `grounded.generators` (see pyproject.toml):

    pip install tests/plugin_pkg
    TEST_PLUGIN_BASE_URL=http://127.0.0.1:8080/v1 grounded ask --generator myplugin "Who gave the lecture?"
    grounded ask --generator grounded_test_plugin:make "…"      # the same factory by import path
"""

from __future__ import annotations

import os
from typing import Any

from langchain_openai import ChatOpenAI


def make(settings: Any) -> ChatOpenAI:
    """The chat model, with the answer length and temperature of grounded's settings."""
    return ChatOpenAI(
        base_url=os.environ["TEST_PLUGIN_BASE_URL"],
        api_key=os.environ.get("TEST_PLUGIN_API_KEY", "not-needed"),  # type: ignore[arg-type]
        model="smollm2",
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
        timeout=settings.llm_timeout,
        max_retries=0,
        stream_usage=True,
    )


def make_without_settings() -> ChatOpenAI:
    """The same model from a factory that takes no argument."""
    from types import SimpleNamespace

    return make(SimpleNamespace(llm_temperature=0.0, llm_max_tokens=48, llm_timeout=60.0))


def not_a_chat_model(settings: Any) -> str:
    """A broken factory: it returns no chat model."""
    return "hello"
