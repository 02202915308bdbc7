# The commands the README gives. Everything a test needs is installed here.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup test lint bench demo clean

# uv itself comes from PyPI when the machine does not have it.
$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

LOCAL_VENV := $(CURDIR)/services/amplifier-local/.venv

setup: $(UV) $(LOCAL_VENV)/.built
	$(UV) sync --all-packages --compile-bytecode --quiet
	@# The workspace packages are editable: compile them too, since a service
	@# that compiles its modules at every spawn pays for it every turn.
	$(BIN)/python -m compileall -q -j 0 src protocol/src services/*/src > /dev/null

# The offline model's own venv (not a workspace member): llama-cpp-python
# builds llama.cpp from source, about 6 minutes on 2 cores, once; uv caches
# the wheel, so the registry's install of the same service reuses it.
$(LOCAL_VENV)/.built: $(UV) services/amplifier-local/pyproject.toml protocol/pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LOCAL_VENV)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(UV) pip install --quiet --compile-bytecode \
		--python $(LOCAL_VENV)/bin/python -e protocol -e services/amplifier-local
	touch $@

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict protocol/src/amplifier_ipc_protocol src/amplifier_ipc/host

bench: setup
	$(BIN)/python -m tests.bench

demo: setup
	$(BIN)/amplifier-ipc discover ./services --register --install
	$(BIN)/amplifier-ipc discover ./definitions --register --install
	$(BIN)/amplifier-ipc run --agent foundation "What is in this folder? Answer in one sentence."

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
