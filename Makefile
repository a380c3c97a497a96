# SPANDEX: `make run` starts the app, `make test` runs the whole test suite (both set up first).
# Setup (scripts/setup.sh) installs Debian packages when some are missing and fills $(VENV); it returns
# in well under a second when its stamp says the venv matches requirements/*.txt and pyproject.toml.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON := $(VENV)/bin/python
# Extra pytest arguments, e.g. make test PYTEST_ARGS='-k lava -x'
PYTEST_ARGS ?=
# The whole suite's limit in seconds: a hang fails with a message instead of eating CI's time.
TEST_TIMEOUT ?= 2700

.PHONY: help setup run lint test bench screenshot clean

help:
	@echo "make setup  install system packages (apt, when missing) and the venv $(VENV)"
	@echo "make run    start the SPANDEX app on the shipped default model (ARGS='--model PATH ...')"
	@echo "make lint   ruff and mypy over the code (make test runs them first)"
	@echo "make test   run the whole test suite"
	@echo "make bench  run every benchmark in bench/"
	@echo "make screenshot  the README's screenshot (docs/screenshot.png), made offscreen"
	@echo "make clean  remove caches and test artifacts (keeps $(VENV) and build/: datasets, training runs)"

setup:
	@VENV='$(VENV)' bash scripts/setup.sh

# Arguments for the app, e.g. make run ARGS='--model spandex-prune90 --demo'
ARGS ?=

run: setup
	$(VENV)/bin/spandex $(ARGS)

# The README's screenshot: the app with its first-start settings (an empty config folder: not yours), 12 s on the demo
# clip as its microphone, on a 1920x1080 offscreen screen (Qt's is 800x800 otherwise), the window 1280x800
SCREENSHOT ?= docs/screenshot.png

screenshot: setup
	config=$$(mktemp -d) && trap 'rm -rf "$$config"' EXIT && \
	XDG_CONFIG_HOME="$$config" QT_QPA_PLATFORM=offscreen:configfile=tests/offscreen-screen.json \
	    $(VENV)/bin/spandex --output none \
	    --file assets/demo/noisy_speech.flac \
	    --window-size 1280x800 --quit-after 12 --screenshot $(SCREENSHOT)

# Static checks first (seconds): ruff (style, imports, likely bugs) and mypy (types), both over the package.
lint: setup
	$(VENV)/bin/ruff check engine app cli assets bench scripts tests main.py
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that is a failure too, and says so.
test: setup lint
	@rc=0; timeout --foreground --kill-after=30 $(TEST_TIMEOUT) \
	    $(PYTHON) -m pytest --durations=15 -o faulthandler_timeout=600 $(PYTEST_ARGS) || rc=$$?; \
	case $$rc in \
	    0) ;; \
	    5) echo "make test: FAILED: pytest collected no tests" >&2 ;; \
	    124|137) echo "make test: FAILED: the suite ran past TEST_TIMEOUT=$(TEST_TIMEOUT) s and was stopped" >&2 ;; \
	    *) echo "make test: FAILED (pytest exit status $$rc)" >&2 ;; \
	esac; \
	exit $$rc

bench: setup
	@shopt -s nullglob; benches=(bench/*.py); failed=(); \
	[ $${#benches[@]} -gt 0 ] || { echo "make bench: no benchmarks in bench/" >&2; exit 1; }; \
	for bench in "$${benches[@]}"; do \
	    echo "=== $$bench"; \
	    $(PYTHON) "$$bench" || failed+=("$$bench"); \
	done; \
	[ $${#failed[@]} -eq 0 ] || { echo "make bench: FAILED: $${failed[*]}" >&2; exit 1; }

# build/ is kept: it holds what took hours to make (build/data: datasets; build/runs: training runs and their
# checkpoints; build/training-audio: the sources). Remove it by hand, knowing that.
clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-artifacts *.egg-info
	find . -path './$(VENV)' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
