# pgexp: `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
QUICKSTART := outputs/quickstart/$(shell date +%Y-%m-%d_%H-%M-%S)

.PHONY: help install run test test-fast lint format bench figures study clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed  ## create .venv with torch 2.13.0 (CPU) and pgexp[dev], editable

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

run: install  ## the first experiment: exact vs mini-batch ascent on FrozenLake 4x4, then its report
	$(BIN)/pgexp +experiment=quickstart estimator=exact hydra.run.dir=$(QUICKSTART)/exact
	$(BIN)/pgexp -m +experiment=quickstart hydra.sweep.dir=$(QUICKSTART)/minibatch
	$(BIN)/pgexp-report $(QUICKSTART)

test: lint  ## lint, then the whole test suite (what CI runs)
	$(PY) -m pytest -n 2

test-fast: install  ## the fast tier: every module, no command-line multiruns or heavy statistics
	$(PY) -m pytest -n 2 -m "not slow"

lint: install  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check pgexp hydra_plugins tests benchmarks scripts
	$(BIN)/ruff format --check pgexp hydra_plugins tests benchmarks scripts
	$(BIN)/mypy

format: install  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix pgexp hydra_plugins tests benchmarks scripts
	$(BIN)/ruff format pgexp hydra_plugins tests benchmarks scripts

bench: install  ## gradients (exact at scale, memory, training vs gymnasium), env throughput, compiled rollouts, the tabular C kernel, sweeps, launchers, invariance cost, design choices, the JAX peer (installs jax; writes benchmarks/results/)
	$(PY) -m pip install -q -e ".[dev,peer]"
	$(PY) -m benchmarks.gradient_timing
	$(PY) -m benchmarks.exact_at_scale
	$(PY) -m benchmarks.minibatch_memory
	$(PY) -m benchmarks.training_throughput
	$(PY) -m benchmarks.env_throughput
	$(PY) -m benchmarks.rollout_compile
	$(PY) -m benchmarks.tabular_kernel
	$(PY) -m benchmarks.batched_sweeps
	$(PY) -m benchmarks.launcher_overhead
	$(PY) -m benchmarks.invariance_cost
	$(PY) -m benchmarks.design_choices
	$(PY) -m benchmarks.jax_peer

figures: install  ## rerun every experiment behind README and docs/figures (batched sweeps checked against their jobs alone) and the estimator study
	$(PY) scripts/figures.py
	$(PY) scripts/study.py

study: install  ## rerun the README's estimator study (pgexp-study, FrozenLake 4x4) and its figures
	$(PY) scripts/study.py

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
