"""Evaluation: question sets, metrics, reports and benchmarks over the rag/ pipeline."""

import rag  # noqa: F401  (offline and no-telemetry switches before heavy imports)
