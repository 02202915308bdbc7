# The commands the README gives. Everything a test needs is installed here.
SHELL := /bin/bash
PYTHON ?= python3
# make runs the uv that uv.lock pins, the one the venv gets and the registry and
# the tests run, never another uv on the machine: each uv version keeps its own
# cache, and a test that installs offline finds only what its uv version cached.
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
TOOLS := $(CURDIR)/.tools/uv-$(UV_VERSION)
UV := $(TOOLS)/bin/uv
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin

.PHONY: setup test lint bench demo clean

$(UV):
	@test -n "$(UV_VERSION)" || { echo "uv.lock pins no uv version (amplifier-ipc depends on uv): run 'uv lock'" >&2; exit 2; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

LOCAL_VENV := $(CURDIR)/services/amplifier-local/.venv
# llama-cpp-python is built from source once into this wheelhouse; every venv
# that needs it (the local service's dev venv, the registry's environments
# built by tests and by the demo) installs that wheel instead of building
# again. Keep the version range in step with services/amplifier-local/pyproject.toml.
WHEELHOUSE := $(CURDIR)/.wheels
LLAMA_CPP_SPEC := llama-cpp-python>=0.3.36,<0.4
export UV_FIND_LINKS := $(WHEELHOUSE)
# llama.cpp builds with -march=native, which turns its AMX kernels on where the
# CPU advertises AMX; in a VM whose kernel does not grant the tile state the
# first real prompt dies with SIGILL (seen here, on a Xeon guest). GCC keeps an
# explicit -mno-* over what -march=native implies, so the build stays native
# otherwise. The stamp names the flags: a wheelhouse built without them is rebuilt.
ifeq ($(shell uname -m),x86_64)
LLAMA_CPP_FLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CPP_BUILD := $(WHEELHOUSE)/.built-no-amx
else
LLAMA_CPP_FLAGS :=
LLAMA_CPP_BUILD := $(WHEELHOUSE)/.built
endif

setup: $(UV) $(LOCAL_VENV)/.built
	$(UV) sync --all-packages --compile-bytecode --quiet
	@# The workspace packages are editable: compile them too, since a service
	@# that compiles its modules at every spawn pays for it every turn.
	$(BIN)/python -m compileall -q -j 0 src protocol/src services/*/src > /dev/null

# The offline model's own venv (not a workspace member): llama-cpp-python
# builds llama.cpp from source, about 6 minutes on 2 cores, once; uv caches
# the wheel, so the registry's install of the same service reuses it.
# --no-cache-dir: pip's own wheel cache does not know the flags, and would hand
# back a build made without them.
$(LLAMA_CPP_BUILD):
	mkdir -p $(WHEELHOUSE)
	rm -f $(WHEELHOUSE)/llama_cpp_python-*.whl $(WHEELHOUSE)/.built*
	@echo "Building llama.cpp for the offline model (about 6 minutes on 2 cores, once)..."
	CFLAGS="$(LLAMA_CPP_FLAGS)" CXXFLAGS="$(LLAMA_CPP_FLAGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(PYTHON) -m pip wheel --quiet --no-cache-dir --no-deps --wheel-dir $(WHEELHOUSE) "$(LLAMA_CPP_SPEC)"
	touch $@

$(LOCAL_VENV)/.built: $(UV) $(LLAMA_CPP_BUILD) services/amplifier-local/pyproject.toml protocol/pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LOCAL_VENV)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(UV) pip install --quiet --compile-bytecode \
		--reinstall-package llama-cpp-python \
		--python $(LOCAL_VENV)/bin/python -e protocol -e services/amplifier-local
	touch $@

# Two workers: the suite is mostly real processes waiting on each other.
# The venv's bin is on PATH for tools the services look up there (rg).
PYTEST_ARGS ?= -n 2
test: setup
	PATH="$(BIN):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

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
	rm -rf $(VENV) $(LOCAL_VENV) $(WHEELHOUSE) .tools .pytest_cache .mypy_cache .ruff_cache
