# `make demo` and `make test` each set up .venv from nothing, install the project into it
# (a real, non-editable install, so the tests see what users get), then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := pyproject.toml $(shell find src rules -type f -not -name '*.pyc' 2>/dev/null)

.PHONY: demo test lint typecheck unit docs install clean expected conformance browser bench bench-service bench-anchors

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check ".[dev]"
	touch $@

demo: $(STAMP)
	$(BIN)/dli-check examples/cases/dli-cmml-unlisted-diagnosis.json
	mkdir -p build
	$(BIN)/dli-check batch examples/cases --output build/demo-results.jsonl \
	  --report build/demo-report.html --worksheets build/demo-worksheets
	$(BIN)/dli-check batch examples/cases --format csv --output build/demo-results.csv --quiet
	$(BIN)/dli-check examples/cases/dli-cmml-unlisted-diagnosis.json --format html \
	  --output build/demo-worksheet.html
	@echo "Results: build/demo-results.jsonl (JSON Lines), build/demo-results.csv (one row per service line)"
	@echo "Worksheet: build/demo-worksheet.html (a reviewer's page for one case; open it in a browser)"
	@echo "Dashboard: build/demo-report.html (the batch at a glance; each line links to its worksheet in build/demo-worksheets/)"

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks fuzz)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks fuzz)
	PYTHONPATH=src $(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src
	$(BIN)/mypy tests

# Branch coverage of every test, and a floor for the core layers (values, language,
# compiler, engine, the front door, results and errors).
CORE := */dli_check/values/*,*/dli_check/language/*,*/dli_check/compiler/*,*/dli_check/engine/*,*/dli_check/api.py,*/dli_check/results.py,*/dli_check/errors.py
# The browser tests' tools: Chromium and its driver (Debian's packages, installed when
# this runs as root, as CI does), and LHC-Forms and axe-core, pinned, from the npm
# registry (their built files only). A machine that cannot have them skips those tests, saying why; CI fails.
LFORMS_VERSION := 40.1.3
AXE_VERSION := 4.10.2
BROWSER := $(VENV)/.browser-$(LFORMS_VERSION)-$(AXE_VERSION)
$(BROWSER): $(BIN)/python
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium chromium-driver >/dev/null; \
	  else echo "note: Chromium is not installed and this user cannot install it"; fi; \
	fi
	rm -rf $(VENV)/js && mkdir -p $(VENV)/js
	-cd $(VENV)/js && npm pack --silent lforms@$(LFORMS_VERSION) >/dev/null \
	  && tar xzf lforms-$(LFORMS_VERSION).tgz package/LICENSE.md package/dist/lforms/webcomponent package/dist/lforms/fhir/R4 \
	  && rm lforms-$(LFORMS_VERSION).tgz
	-cd $(VENV)/js && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && mkdir -p axe && tar xzf axe-core-$(AXE_VERSION).tgz -C axe package/axe.min.js package/LICENSE \
	  && rm axe-core-$(AXE_VERSION).tgz
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then touch $@; fi

browser: $(BROWSER)

unit: $(STAMP) $(BROWSER)
	$(BIN)/dli-check rules test rules --min-coverage 100 --mutate --min-mutation-score 100
	rm -f .coverage .coverage.*
	$(BIN)/pytest --cov --cov-report= -n auto
	$(BIN)/coverage report --include='$(CORE)' --fail-under=90

# The docs site (mkdocs.yml): the README as its home page, the guides in docs/, the
# rule-language reference from the operator and fact-type tables, the API from docstrings; any warning fails the build.
docs: $(STAMP)
	PYTHONPATH=src $(BIN)/mkdocs build --strict --quiet

test: lint typecheck unit docs

clean:
	rm -rf $(VENV) .venv-anchors build dist site .coverage .coverage.*

# Benchmarks (a few minutes): prints a table, writes benchmarks/out/results.json.
bench: $(VENV)/.bench-installed bench-anchors
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/dashboard.py

# dli-check beside general rule engines, which live only in their own environment
# (.venv-anchors): never dependencies of the project. An engine that cannot be installed
# is skipped.
ANCHORS := business-rules json-logic-qubit rule-engine zen-engine
bench-anchors: $(STAMP)
	test -x .venv-anchors/bin/python || $(PYTHON) -m venv .venv-anchors
	.venv-anchors/bin/python -m pip install --quiet --disable-pip-version-check .
	for p in $(ANCHORS); do \
	  .venv-anchors/bin/python -m pip install --quiet --disable-pip-version-check "$$p" \
	    || echo "$$p: not installed, its row is skipped"; \
	done
	.venv-anchors/bin/python benchmarks/anchors.py

# The service on loopback (about 7 minutes): latency at 50, 100 and 200 requests/s, memory
# over 100,000 requests; writes benchmarks/out/service.json.
bench-service: $(STAMP)
	$(BIN)/python benchmarks/service_load.py

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check ".[dev,bench]"
	touch $@

# Rewrite examples/expected/ from the current engine: review the diff before committing.
# The README's conformance table, from the tests marked with a requirement.
conformance: $(STAMP)
	$(BIN)/python tests/conformance.py

expected: $(STAMP)
	for f in examples/cases/*.json; do \
	  $(BIN)/dli-check "$$f" --format json > "examples/expected/$$(basename "$$f")" || exit 1; \
	done
	mkdir -p examples/expected/fhir
	for f in examples/fhir/*.json; do \
	  $(BIN)/dli-check "$$f" --format json > "examples/expected/fhir/$$(basename "$$f")" || exit 1; \
	done
	for d in examples/guidelines/*/; do \
	  mkdir -p "$$d/expected"; \
	  for f in "$$d"cases/*.json; do \
	    $(BIN)/dli-check "$$f" --rules "$$d$$(basename "$$d").yaml" --format json \
	      > "$$d/expected/$$(basename "$$f")" || exit 1; \
	  done; \
	done
