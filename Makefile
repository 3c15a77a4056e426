# `make run`: the chat on the demo corpus; `make test`: the whole suite (what .ci/run calls).
# Both create .venv on first use with one pip install pinned by constraints.txt.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: run test lint ask clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -c constraints.txt -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/grounded serve

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

ask: $(STAMP)
	$(VENV)/bin/grounded ask "Who gave the lecture at the Politburo study session on AI?"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
