# Every target sets up its own virtualenv on first use: python3 (3.11+) and make are needed, and the test
# targets install their programs (Prometheus with apt, helm/kubectl/checkov, a Kubernetes control plane) first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOGDIR ?= runs/cartpole
# The test targets run one pytest-xdist worker per core, at most 4 (tests/conftest.py: what runs serially);
# `make test PARALLEL=` runs them in one process.
PARALLEL ?= -n auto --maxprocesses 4 --dist loadgroup

.PHONY: train test test-quick test-tools protos bench bench-solve bench-controller bench-on-policy bench-replay bench-envs bench-pong bench-load bench-devices bench-all clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

## Train V-trace on CartPole-v1 until the mean return of 100 episodes reaches 475 (resumes from LOGDIR).
train: $(STAMP)
	$(BIN)/seedrl train --env gym:CartPole-v1 --agent vtrace --actors 2 --envs-per-actor 16 \
		--total-frames 3000000 --stop-at-return 475 --logdir $(LOGDIR)

## Install what the tests need beyond the virtualenv (cached: once everything is there, it returns at once).
test-tools: $(STAMP)
	$(BIN)/python -m tests.setup_tools

## Run the whole test suite (what CI runs), then list the 10 slowest tests.
test: test-tools
	$(BIN)/python -m pytest $(PARALLEL) --durations=10

## Unit tests and the fast integration tests: everything not marked `slow`.
test-quick: test-tools
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow" --durations=10

## Regenerate services/v1 from protos/ (a test fails when they drift).
protos: $(STAMP)
	$(BIN)/python protos/generate.py

## Throughput of the data path: actors alone, untrained policy, training (prints ratios).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.throughput

## Wall time of `seedrl train` to a CartPole mean return of 475.
bench-solve: $(STAMP)
	$(BIN)/python -m benchmarks.time_to_solve

## Seconds the controller takes to start, scale, stop and resume an experiment; API latency.
bench-controller: $(STAMP)
	$(BIN)/python -m benchmarks.controller

## Time to solve CartPole for every on-policy preset, V-trace as the baseline.
bench-on-policy: $(STAMP)
	$(BIN)/python -m benchmarks.on_policy

## Replay insert/sample throughput at 100k and 1M capacity; R2D2 and SAC train steps/s.
bench-replay: $(STAMP)
	$(BIN)/python -m benchmarks.replay

## Actor-side steps/s per env family (ALE vs envpool at the same env count).
bench-envs: $(STAMP)
	$(BIN)/python -m benchmarks.envs_families

## Pong with SEED preprocessing: the whole system against the same actors stepping alone.
bench-pong: $(STAMP)
	$(BIN)/python -m benchmarks.pong_system

## One learner under 10, 100 and 1,000 simulated env slots: latency, memory, step accounting.
bench-load: $(STAMP)
	$(BIN)/python -m benchmarks.load

## Learner train steps/s and inference batches/s on 1 vs 2 devices, XLA and bfloat16 on and off.
bench-devices: $(STAMP)
	$(BIN)/python -m benchmarks.devices

## Every benchmark, 3 rounds: medians, spreads and plots written into docs/benchmarks.md, which states how long the run took.
bench-all: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) runs .pytest_cache

.PHONY: bench-peers
## seedrl against Sample Factory 2.1 on this machine, interleaved in one run (Sample Factory's virtualenv is made
## on first use, in ~/.cache/seedrl/peers); the figures go into docs/benchmarks.md beside the others.
bench-peers: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --only peers
