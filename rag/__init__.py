"""Grounded question answering: shared types, settings, index, retrieval, generation and trace.

Importing any part of the project imports this first, so the offline and no-telemetry
switches below are in force before torch, transformers, chromadb or gradio load.
"""

import os

# Nothing that runs may reach the network: models come from installed packages, and
# Chroma/Gradio/Hugging Face telemetry is off. Forced, not defaulted, on purpose.
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "LANGSMITH_TRACING": "false",
}
os.environ.update(_OFFLINE_ENV)
