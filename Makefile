# 编办监督助手 — the two commands a new user needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/roundtrip.py
	$(BIN)/python bench/outbox.py
	$(BIN)/python bench/ladder.py
	$(BIN)/python bench/roster.py
	$(BIN)/python bench/import_duplicates.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .ruff_cache
