"""Ingest: load files, chunk them by word-pieces, embed them and store them in the index."""

import rag  # noqa: F401  (offline and no-telemetry switches before heavy imports)
