"""Grounded question answering: shared types, settings, index, retrieval, generation and trace.

Importing any part of the project imports this first, so the offline and no-telemetry
switches below are in force before torch, transformers, chromadb or gradio load. They are
defaults: an application that imports us and has set one of them keeps its own value
(the `grounded` command itself forces them, see `ui.cli.main`).
"""

import os

# Nothing that runs may reach the network: models come from installed packages, and
# Chroma/Gradio/Hugging Face telemetry is off.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "LANGSMITH_TRACING": "false",
}
for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)
