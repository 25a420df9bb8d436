# Two commands for a newcomer:  `make demo` (set up + render the gallery), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.multiattn-installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	@# headless Chromium (Debian package) for the HTML view tests and screenshots; no browser download
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium >/dev/null) || echo "warning: install Debian's chromium for the HTML tests"
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# the library declares lower bounds; this checkout pins the torch build it is tested with (CPU, on disk)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

demo: $(STAMP)  ## create .venv and render the demo gallery into gallery/
	$(VENV)/bin/multiattn demo --out gallery

test: $(STAMP)  ## create .venv if missing and run the fast test suite
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

bench: $(STAMP)  ## slow tests (training, full-size models) and the benchmark JSON lines
	$(PY) -m pip install -q -e ".[all,bench]"  # the peers the benchmarks measure against
	$(PY) -m pytest -q -m slow; rc=$$?; if [ $$rc -ne 0 ] && [ $$rc -ne 5 ]; then exit $$rc; fi
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

lint: $(STAMP)  ## ruff on the Python, eslint on the HTML views' JavaScript (renderers/assets, tests/js)
	test -d node_modules || npm install --no-audit --no-fund
	@# both linters always run; the target fails if either finds something
	rc=0; $(VENV)/bin/ruff check . || rc=1; \
		npx --no-install eslint renderers/assets tests/js eslint.config.mjs || rc=1; exit $$rc

clean:
	rm -rf $(VENV) gallery
