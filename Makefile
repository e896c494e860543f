# trackscope — the two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

# torch is locked as its CPU build (an unpinned torch pulls GBs of CUDA packages). This workplace keeps that wheel
# in /opt/wheels, where pip's config finds it; elsewhere it comes from PyTorch's CPU index page for torch.
TORCH_CPU := torch==2.13.0+cpu
TORCH_LOCAL := $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl)
TORCH_PAGE := https://download.pytorch.org/whl/cpu/torch/
PIP_TORCH := $(if $(TORCH_LOCAL),,--find-links $(TORCH_PAGE))

# `make lock`: uv, pinned, in a scratch venv under build/ (never in .venv).
UV_VERSION := 0.13.9
LOCK_TOOL := build/lock-tool
LOCK_TARGET := --python-version 3.11 --python-platform x86_64-manylinux_2_28

# pytest runs in one process per core, at most 4 (each holds torch); a test file stays in one process, so its
# module-wide fixtures (a Ray cluster, a server) start once.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: demo test lint venv clean bench lock check-lock

# Installs exactly the hash-pinned lock (dependencies and the dev and ray extras: CI tests `--engine ray`), then
# the project itself without dependencies.
$(STAMP): $(LOCK) pyproject.toml tools/check_lock.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python tools/check_lock.py
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes $(PIP_TORCH) -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/trackscope demo --out demo-output

test: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/lint-imports
	$(BIN)/python tools/check_lock.py
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/lint-imports
	$(BIN)/ruff format --check src tests bench tools

# Is requirements.lock still what pyproject.toml asks for? (needs no venv)
check-lock:
	$(PY) tools/check_lock.py

# Refreshes requirements.lock from pyproject.toml (dependencies + the dev and ray extras): keeps every pin that
# still fits; `make lock UPGRADE=1` moves everything to the newest releases.
lock:
	test -f $(LOCK_TOOL)/.uv-$(UV_VERSION) || { rm -rf $(LOCK_TOOL) && $(PY) -m venv $(LOCK_TOOL) \
		&& $(LOCK_TOOL)/bin/pip install -q uv==$(UV_VERSION) && touch $(LOCK_TOOL)/.uv-$(UV_VERSION); }
	printf '%s\n' '$(TORCH_CPU)' > $(LOCK_TOOL)/torch-cpu.txt
	$(LOCK_TOOL)/bin/uv pip compile pyproject.toml --extra dev --extra ray --generate-hashes $(LOCK_TARGET) \
		--find-links $(if $(TORCH_LOCAL),/opt/wheels,$(TORCH_PAGE)) --constraint $(LOCK_TOOL)/torch-cpu.txt \
		--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade) --output-file $(LOCK) >/dev/null
	$(PY) tools/check_lock.py --stamp --generator 'uv $(UV_VERSION)'

clean:
	rm -rf $(VENV) demo-output .pytest_cache .import_linter_cache build *.egg-info src/*.egg-info
