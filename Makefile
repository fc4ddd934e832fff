# LLM Lab: `make demo` sets everything up and runs the main job offline; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test browser-test install install-dev bench bench-peers lint clean labs notebooks classroom-env gateway-env

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "LLM Lab needs Python 3.11 or newer (found " + sys.version.split()[0] + ")"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# The first install builds llama-cpp-python from source (about 5 minutes on 2 cores); pip caches the wheel.
$(VENV)/.installed: requirements.txt pyproject.toml | $(PY)
	@echo "Installing requirements (the first time builds the local llama.cpp engine: ~5 minutes)..."
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) install -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The main job: the course's puzzles on the default models (each keyed provider's default; with no key, the
# bundled local/smollm2), graded, with a report folder. Then the bundled model's variants (greedy vs sampled,
# direct vs step-by-step prompt, majority of 3) on 30 generated puzzles, with error bars and report.html.
# A second run answers from the run log's cache.
DEMO_REPORT ?= runs/demo-report
DEMO_VARIANTS ?= runs/demo-variants
demo: install
	$(PY) -m helpers keys || true
	$(PY) -m helpers compare --report $(DEMO_REPORT)
	$(PY) -m helpers.compare.variants --report $(DEMO_VARIANTS)

test: install-dev classroom-env
	$(PY) -m pytest -q -n 2 -m "not browser"
	$(MAKE) browser-test

# Every lesson and lab solution run in JupyterLab in headless Chromium (one server, one browser), asserting on
# the rendered page; screenshots in screenshots/ (git-ignored). Installs Debian's chromium and chromium-driver
# when missing and running as root (CI). About 6 minutes on 2 cores.
browser-test: install-dev
	$(PY) -m pytest -q -n 0 -m browser tests/browser

# The classroom tests' tools: JupyterHub's proxy (npm, pinned by deploy/hub/package-lock.json) in
# deploy/hub/node_modules, and the LiteLLM gateway in its own venv (its openai/httpx pins differ from ours).
GATEWAY_VENV ?= .venv-litellm
classroom-env: deploy/hub/node_modules/.installed gateway-env

deploy/hub/node_modules/.installed: deploy/hub/package.json deploy/hub/package-lock.json
	cd deploy/hub && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

gateway-env: $(GATEWAY_VENV)/.installed
$(GATEWAY_VENV)/.installed: deploy/litellm/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11)'
	$(PYTHON) -m venv $(GATEWAY_VENV)
	$(GATEWAY_VENV)/bin/python -m pip --disable-pip-version-check install --quiet -r deploy/litellm/requirements.txt
	@touch $@

# The worked solutions labs/solutions/ and the student copies labs/NN_*.ipynb, both from labs/source/.
labs: install
	$(PY) scripts/make_labs.py

# Execute every lesson notebook, lab solution and student copy offline (`make test` runs them too).
notebooks: install-dev
	$(PY) -m pytest -q -m notebooks

# LLM Lab side by side with promptfoo (npm), LiteLLM (its own venv) and the bare openai client, on one loopback
# server (BENCHMARKS.md, "Peers"). The peers are installed, pinned, into benchmarks/.peers/ on first use.
bench-peers: install
	$(PY) -m benchmarks.peers

# Lint and types: ruff on the code, mypy on helpers/ (settings in pyproject.toml). `make test` runs both too.
lint: install-dev
	$(PY) -m ruff check helpers tests benchmarks scripts
	$(PY) -m mypy

clean:
	rm -rf $(VENV) $(GATEWAY_VENV) deploy/hub/node_modules .pytest_cache
