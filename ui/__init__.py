"""User-facing shells over rag/: the `grounded` command line and the Gradio chat. Nothing imports ui/."""

import rag  # noqa: F401  (offline and no-telemetry switches before heavy imports)
