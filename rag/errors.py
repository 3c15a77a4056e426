"""User-facing errors: each message names what is wrong and how to fix it."""


class GroundedError(Exception):
    """Base of every error the CLI turns into one line and a non-zero exit."""


class IndexNotFoundError(GroundedError):
    """No index at the configured location."""


class IndexMismatchError(GroundedError):
    """The index was built with another embedding model or chunker."""


class IngestError(GroundedError):
    """A file or folder could not be ingested; nothing was written."""


class QuestionError(GroundedError):
    """The question is empty or malformed."""


class DatasetError(GroundedError):
    """An evaluation file is missing or malformed."""


class ConfigError(GroundedError):
    """A setting is invalid or a backend is unknown or not installed."""


class GeneratorError(GroundedError):
    """The answer model could not be reached or refused the request (bad URL, key, model name)."""


class IndexBusyError(GroundedError):
    """Another process kept the index's write lock past the timeout."""


class StoreUnavailableError(GroundedError):
    """The Chroma server (GROUNDED_CHROMA_URL) does not answer or refuses the request."""
