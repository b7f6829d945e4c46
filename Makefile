# Everything runs from a virtual environment this Makefile builds itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: demo test check lint format check-config check-stage bench clean package policies pm2

# The fleet's app runs under a real PM2 (sandbox.pm2), installed here, not globally.
PM2_VERSION := 7.0.4
PM2 := .tools/node_modules/.bin/pm2
pm2: $(PM2)
$(PM2):
	npm install --prefix .tools --no-audit --no-fund --silent pm2@$(PM2_VERSION)

demo: $(STAMP) $(PM2)
	$(PY) -m sandbox.demo

# Workers each with their own moto server and ports; a file's tests stay on one worker (the
# sandbox tests share a module-scoped world), the longest files first (tests/conftest.py). Most
# of a world test is waiting (on moto, a hang's timeout, Sentinel, Chromium), so two workers per
# core keep both cores busy. WORKERS=1 runs serially.
WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
test: $(STAMP) $(PM2)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# The fast lane: lint, unit and contract tests on fakes (no moto server, no browser), doctests.
check: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n auto -m "not world and not browser and not slow" tests
	$(PY) -m pytest -p no:xdist --doctest-modules chalicelib

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

check-config: $(STAMP)
	$(PY) -m chalicelib.config $(or $(CONFIG),chalicelib/configs/example.yaml)

# A stage's config with the stage's names: STAGE=prod (LIVE=1 also looks each name up in AWS).
check-stage: $(STAMP)
	$(PY) -m autoheal_ops --stage $(or $(STAGE),dev) check $(if $(LIVE),--live)

# dist/sam.json (merged with resources/) and dist/deployment.zip for one stage: STAGE=prod.
# Refuses a config still probing the shipped example.com endpoints (they never answer: every monitor
# would go DOWN and restart healthy instances); EXAMPLE=1 packages the shipped example as a trial.
package: $(STAMP)
	$(PY) -m autoheal_ops.iam --check
	$(PY) -m autoheal_ops.package --stage $(or $(STAGE),dev) $(if $(EXAMPLE),--allow-example-endpoints)
	$(VENV)/bin/cfn-lint dist/sam.json dist/$(or $(STAGE),dev)/resources.json

# Regenerate .chalice/policy-<stage>-<function>.json after changing steps, adapters or configs.
policies: $(STAMP)
	$(PY) -m autoheal_ops.iam

bench: $(STAMP)
	$(PY) bench/probe_fanout.py
	$(PY) bench/cold_start.py

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache dist .tools
