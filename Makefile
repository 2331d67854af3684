# The two commands: `make up` (the stack on the embedded local cloud) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
ANSIBLE_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_CONFIG="$(CURDIR)/ansible.cfg"
PLAYBOOK    := $(ANSIBLE_ENV) $(VENV)/bin/ansible-playbook
# Extra arguments for ansible-playbook, e.g. make up ARGS='-e network_nat_mode=single'
ARGS        ?=
# Seeds of make interrupt (one run per seed).
SEEDS       ?= 1 2 3 4 5

.PHONY: help venv localcloud localcloud-stop dataplane up down check test lint interrupt bench lock clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

venv: ## Create/refresh .venv from the exact locks
	@./scripts/bootstrap.sh

localcloud: venv ## Start the embedded local cloud (moto on 127.0.0.1) unless it runs
	@$(PY) -m localcloud start

localcloud-stop: venv ## Stop the local cloud this project started
	@$(PY) -m localcloud stop

dataplane: venv ## Install/start Docker and build the test hosts' base image (cached)
	@./scripts/dataplane-setup.sh

up: localcloud dataplane ## Provision, configure and deploy the whole stack on the local cloud (site.yml)
	@$(PLAYBOOK) site.yml $(ARGS)

check: localcloud ## Dry run of site.yml with diffs
	@$(PLAYBOOK) site.yml --check --diff $(ARGS)

down: venv ## Tear the stack down, then stop the local cloud and remove what it ran
	@if $(PY) -m localcloud check >/dev/null 2>&1; then $(PLAYBOOK) playbooks/teardown.yml $(ARGS); \
	else echo "local cloud not running: nothing to tear down"; fi
	@$(PY) -m localcloud down

test: venv ## Install what the tests need, then run lint and the whole suite
	@./scripts/test.sh

lint: venv ## ansible-lint (production profile), yamllint, ruff
	@./scripts/lint.sh

interrupt: venv ## Kill site.yml and teardown.yml midway and check they converge: make interrupt SEEDS='1 2 3 4 5'
	@INTERRUPT_SEEDS="$(SEEDS)" $(ANSIBLE_ENV) $(PY) -m pytest -p no:cacheprovider -q -s tests/integration/test_95_interrupted.py

bench: localcloud ## Time a first run, a no-op rerun, a check run and a teardown
	@$(PY) bench/provision_bench.py

lock: ## Re-resolve requirements.in into the exact lock requirements.txt
	@rm -rf /tmp/resume-lock-venv && python3 -m venv /tmp/resume-lock-venv && \
	/tmp/resume-lock-venv/bin/pip install -q -r requirements.in && \
	{ echo '# Exact lock of requirements.in (pip freeze of a clean venv on Python 3.11). Do not edit by hand.'; \
	  /tmp/resume-lock-venv/bin/pip freeze | sort -f; } > requirements.txt

clean: ## Remove the venv, the local state and the artifacts
	rm -rf $(VENV) .state artifacts
