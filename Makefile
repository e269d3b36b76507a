# The README's two commands: `make demo` (a real send) and `make check` (the whole test suite).
# Both create .venv on first use, so they work on a fresh machine with only python3.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo check lint typecheck test docs bandit fuzz-smoke unasync clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/netsmtp demo

unasync: $(BIN)/.installed
	$(BIN)/python scripts/unasync.py

lint: $(BIN)/.installed
	$(BIN)/python scripts/unasync.py --check
	$(BIN)/ruff check src tests examples scripts benchmarks fuzz
	$(BIN)/ruff format --check src tests examples scripts benchmarks fuzz

typecheck: $(BIN)/.installed
	$(BIN)/mypy

test: $(BIN)/.installed
	$(BIN)/pytest

# The site (mkdocs.yml, docs/): warnings are errors. Its examples run in `test` (tests/docs).
docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Security linter over the library (skips, each justified, in pyproject.toml [tool.bandit]).
bandit: $(BIN)/.installed
	$(BIN)/bandit -q -r src -c pyproject.toml

# A 20-second fuzzing burst: each target of fuzz/ for 10 s (atheris, or its fallback loop).
fuzz-smoke: $(BIN)/.installed
	$(BIN)/python fuzz/smoke.py --seconds 10

check: lint typecheck test docs bandit fuzz-smoke

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis site
