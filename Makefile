# 编办监督助手 — the two commands a new user needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean wheelhouse install-offline

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/roundtrip.py
	$(BIN)/python bench/outbox.py
	$(BIN)/python bench/ladder.py
	$(BIN)/python bench/roster.py
	$(BIN)/python bench/import_duplicates.py
	$(BIN)/python bench/dashboard.py

# Offline install (docs/operations.md): `make wheelhouse` on a machine with network, copy the folder,
# then `make install-offline` on the server. WHEEL_PLATFORM / WHEEL_PYTHON pick another target,
# e.g. `make wheelhouse WHEEL_PLATFORM=manylinux2014_aarch64 WHEEL_PYTHON=3.11`.
WHEELHOUSE ?= wheelhouse
WHEEL_PLATFORM ?=
WHEEL_PYTHON ?=
WHEEL_TARGET := $(if $(WHEEL_PLATFORM),--platform $(WHEEL_PLATFORM)) $(if $(WHEEL_PYTHON),--python-version $(WHEEL_PYTHON))

wheelhouse:
	mkdir -p $(WHEELHOUSE)
	$(PY) -m pip wheel -q --no-deps --wheel-dir $(WHEELHOUSE) .
	$(PY) -m pip download -q --only-binary=:all: $(WHEEL_TARGET) --dest $(WHEELHOUSE) $(WHEELHOUSE)/bianban_bot-*.whl
	@echo "依赖已收集到 $(WHEELHOUSE)/，复制到服务器后运行 make install-offline"

install-offline:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --no-index --find-links $(WHEELHOUSE) bianban-bot
	$(BIN)/python -m bot --version

clean:
	rm -rf $(VENV) demo-data wheelhouse .pytest_cache .ruff_cache .mypy_cache
