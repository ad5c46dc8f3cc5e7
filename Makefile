# tcplab — the same targets locally and in CI (.ci/run calls `make test`).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= dev,all
PYTEST_ARGS ?=

.PHONY: help install run test lint typecheck pytest bench clean wheel-smoke

help:
	@echo "make run    - set up and run the quickstart"
	@echo "make test   - set up and run ruff, mypy and pytest"
	@echo "make bench  - run the benchmarks in bench/"
	@echo "make wheel-smoke - build the wheel, install it (no extras) in a fresh venv, use it"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tcplab quickstart

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install checkov
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/run_all.py

wheel-smoke: install
	BUILD_PY=$(BIN)/python bash scripts/wheel-smoke.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Seeded fuzzing of the decoder, batch validators, line validator and registry opener
# (tests/fuzz/engine.py); CI runs a 10^5 slice in pytest (tests/fuzz/test_fuzz_slice.py).
FUZZ_N ?= 1000000
FUZZ_SEED ?= 1
.PHONY: fuzz
fuzz: install
	$(BIN)/python -m tests.fuzz.engine --n $(FUZZ_N) --seed $(FUZZ_SEED) --out fuzz-crashes

# Hardware CI cannot have gets its own target instead of a skip: run on a machine with an
# NVIDIA GPU. NVML sampling during a torch GPU workload must show non-zero utilisation and power;
# without a GPU it fails with the reason (no figure is invented). The accelerator checks follow:
# pytest -m gpu (deselected from `make test`) and bench/gpu_check.py (CUDA backend vs oracle on
# 10^8 rows, throughput as ratios to copies, NVML during the run).
.PHONY: test-gpu
test-gpu: install
	$(BIN)/python bench/bench_monitor_gpu.py
	$(BIN)/pytest -m gpu tests/accel
	$(BIN)/python bench/gpu_check.py

# checkov scans the rendered Terraform (tests/infra/test_checkov.py); its pins conflict with
# ours, so it lives in its own virtualenv. .ci/run calls this before `make test`.
CHECKOV_VENV ?= .venv-checkov
.PHONY: checkov
checkov:
	@test -x $(CHECKOV_VENV)/bin/checkov || ($(PY) -m venv $(CHECKOV_VENV) && \
		$(CHECKOV_VENV)/bin/python -m pip install -q 'checkov==3.3.30')
