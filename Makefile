# Every target creates the virtual environment it needs; only python3 (3.11+) is required.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MUTATION_STAMP := $(VENV)/.installed-mutation

.PHONY: mock certify test lint fuzz soak bench mutation clean msw-deps wiremock-deps

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m compileall -q mockserver crosmos_contract conformance  # read even where PYTHONDONTWRITEBYTECODE is set: a faster cold start
	touch $(STAMP)

mock: $(STAMP)            ## serve the mock on http://127.0.0.1:4010 (embedded contract)
	$(BIN)/crosmos-mock $(ARGS)

certify: $(STAMP)         ## certify a server (default: the embedded mock); the token from $$CROSMOS_TOKEN
	@echo "crosmos-conformance run (arguments not echoed: they may hold a token)"
	@$(BIN)/crosmos-conformance run $(ARGS)

wiremock-deps: $(STAMP)   ## WireMock's jar for the bench and its test (into bench/.wiremock; needs npm, and java to run)
	$(BIN)/python -c "from bench.servers import ensure_wiremock; print(ensure_wiremock())"

msw-deps:                 ## msw for the node test of `crosmos-mock export` (into .cache/msw; needs npm)
	npm install --prefix .cache/msw --no-audit --no-fund --loglevel=error msw@2.15.0

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint                ## lint, type-check and run the default test suite
	$(BIN)/pytest -q $(ARGS)

fuzz: $(STAMP)            ## long fuzzing and soak runs (opt-in, minutes; the soak needs wrk)
	$(BIN)/pytest -q -s -m slow $(ARGS)

soak: $(STAMP)            ## the 60 s wrk soak alone
	$(BIN)/pytest -q -s -m slow tests/hardening/test_soak.py $(ARGS)

bench: $(STAMP)           ## mock vs WireMock, Prism and a bare WSGI app; certification and cold start (~1 h; installs wrk, Prism, WireMock, java)
	$(BIN)/python -m bench.run $(ARGS)

$(MUTATION_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,mutation]'
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)  ## mutants of both references vs the suite (~45 min on 2 cores at most; installs cosmic-ray)
	$(BIN)/python -m bench.mutation --reference both $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info test-output reports
