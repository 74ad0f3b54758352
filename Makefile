# Two entry points, both doing all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install bench

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Start the daemon on ./inbox -> ./outbox and hand it the sample clip (results in outbox/sample/).
run: $(STAMP)
	cp -n examples/sample.mp4 inbox/ || true
	$(BIN)/mocapd run --config etc/mocapd.toml

lint: $(STAMP)
	$(BIN)/ruff check mocapd tools SmoothNet tests bench
	$(BIN)/ruff format --check mocapd tools SmoothNet tests bench
	$(BIN)/mypy mocapd

test: $(STAMP) lint
	command -v assimp >/dev/null || (apt-get update -qq && apt-get install -y -qq assimp-utils >/dev/null)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	command -v systemd-analyze >/dev/null || (apt-get update -qq && apt-get install -y -qq systemd >/dev/null)
	$(BIN)/pytest -q

bench: $(STAMP)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done
