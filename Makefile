# One command each: `make run` serves the API locally, `make test` runs lint and the tests.
# Lambda runs Python 3.13: test on it when this machine has it (on PATH or under pyenv), else python3.
PYTHON ?= $(shell (python3.13 -c '' >/dev/null 2>&1 && echo python3.13) \
	|| ls -d "$$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3 2>/dev/null | tail -n 1 | grep . \
	|| echo python3)
VENV := .venv
PY := $(VENV)/bin/python
PYTHON_STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
NODE_STAMP := node_modules/.installed
STAGE ?= dev
REGION ?= ap-south-1

.PHONY: help venv node browser bench-check test unit integration infra e2e lint typecheck format run package deploy bench fuzz clean blocks unblock

help:
	@echo "make run      serve the API on http://127.0.0.1:$${PORT:-3000} against an embedded AWS emulator"
	@echo "make test     lint, type-check and run every test (creates .venv and node_modules as needed)"
	@echo "make unit     use cases and domain against in-memory fakes: seconds, no emulator, no node"
	@echo "make integration  handlers and AWS adapters against moto in-process"
	@echo "make infra    the packaged CloudFormation template and zip (needs node)"
	@echo "make e2e      the local runner over HTTP: races, fuzzing, leak audit"
	@echo "make package  build the CloudFormation template and function zips, no AWS account needed"
	@echo "make deploy   deploy to AWS: STAGE=$(STAGE) REGION=$(REGION)"
	@echo "make bench    measure cold start, AWS calls, latency, package size and cost"
	@echo "make fuzz     a longer fuzz run against the local runner"
	@echo "make blocks   the pumping guard's blocked prefixes: STAGE=$(STAGE) REGION=$(REGION), or LOCAL=1 for make run"
	@echo "make unblock PREFIX=447911  lift one block, as listed (same STAGE/REGION or LOCAL=1)"

# --no-compile: pip would compile every module of every package (moto alone has hundreds), which
# takes most of an install; Python compiles the few that are imported, once, on first use.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --no-compile -c constraints.txt

# Everything: tests, linters, packaging. `make run` needs only the smaller set below.
$(PYTHON_STAMP): requirements.txt requirements-run.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $@ $(RUN_STAMP)

$(RUN_STAMP): requirements.txt requirements-run.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements-run.txt
	@touch $@

venv: $(PYTHON_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: $(NODE_STAMP)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

typecheck: venv
	$(PY) -m mypy

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: venv node browser lint
	$(PY) -m pytest -n 2 --dist loadfile -m "not bench_check"

# make bench in its quick mode, end to end, checked: about 70 s, so not part of make test.
bench-check: venv node
	$(PY) -m pytest -m bench_check tests/infrastructure/test_bench_smoke.py

# Debian's chromium, for the browser tests of the runner's pages. Installed when missing and the
# machine lets us (root, Debian's registry); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
		|| echo "chromium could not be installed: the browser tests will skip"; }

unit: venv
	$(PY) -m pytest tests/unit

integration: venv
	$(PY) -m pytest tests/integration

infra: venv node
	$(PY) -m pytest tests/infrastructure

e2e: venv
	$(PY) -m pytest tests/e2e

run: $(RUN_STAMP)
	@$(PY) -m local.runner

# The pumping guard's block list, without a redeploy (local/blocks.py). Against the stack otp-$(STAGE)
# in $(REGION), with your AWS credentials; LOCAL=1 asks the `make run` on 127.0.0.1:$${PORT:-3000}.
BLOCKS_TARGET = $(if $(LOCAL),--local,--stage $(STAGE) --region $(REGION))

blocks: $(RUN_STAMP)
	@$(PY) -m local.blocks list $(BLOCKS_TARGET)

unblock: $(RUN_STAMP)
	@test -n "$(PREFIX)" || { echo "usage: make unblock PREFIX=447911 [LOCAL=1 | STAGE=... REGION=...]" >&2; exit 2; }
	@$(PY) -m local.blocks lift "$(PREFIX)" $(BLOCKS_TARGET)

package: venv node
	npx serverless package --stage $(STAGE) --region $(REGION)

deploy: venv node
	npx serverless deploy --stage $(STAGE) --region $(REGION)

# A throw-away stage in your own account, driven end to end, checked and removed (docs/deploying-for-real.md).
# Without STAGE on the command line it is "smoke", never the default dev. SMOKE_ARGS=--dry-run prints the
# plan; SMOKE_ARGS="--endpoint http://127.0.0.1:3000" drives SIGV4=true make run instead of a deployment.
.PHONY: smoke
smoke: venv node
	$(PY) -m deploy.smoke --stage $(if $(filter command line environment,$(origin STAGE)),$(STAGE),smoke) --region $(REGION) $(SMOKE_ARGS)

# The real `serverless deploy` against an AWS emulator (moto on 127.0.0.1, throw-away credentials),
# then the IAM proof: each handler's AWS requests, evaluated against its role (deploy/emulated.py).
.PHONY: deploy-emulated
deploy-emulated: venv node
	$(PY) -m deploy.emulated

bench: venv node
	$(PY) -m bench.run

fuzz: venv
	FUZZ_EXAMPLES=5000 $(PY) -m pytest tests/e2e/test_fuzz.py

clean:
	rm -rf $(VENV) node_modules .serverless .requirements-cache .pytest_cache .ruff_cache .hypothesis

# Mixed traffic against the runner at a steady rate, with the checked history (bench/soak.py);
# writes the `## Soak` section of BENCHMARKS.md. SOAK_SECONDS (default 600) and SOAK_RATE override.
.PHONY: soak
soak: $(RUN_STAMP)
	$(PY) -m bench.soak
