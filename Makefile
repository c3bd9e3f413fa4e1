# Every target sets up its own virtualenv on first use: only python3 (3.11+) and make are needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOGDIR ?= runs/cartpole

.PHONY: train test protos bench bench-solve bench-controller clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

## Train V-trace on CartPole-v1 until the mean return of 100 episodes reaches 475 (resumes from LOGDIR).
train: $(STAMP)
	$(BIN)/seedrl train --env gym:CartPole-v1 --agent vtrace --actors 2 --envs-per-actor 16 \
		--total-frames 3000000 --stop-at-return 475 --logdir $(LOGDIR)

## Run the whole test suite (unit and integration).
test: $(STAMP)
	$(BIN)/python -m pytest

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

clean:
	rm -rf $(VENV) runs .pytest_cache
