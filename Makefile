# The two entry points (see README): `make book` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= auto
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
JB_FLAGS ?=
# Smoke runs for tests write to throw-away folders, never over committed artifacts or ledgers.
SCRATCH := $(or $(TMPDIR),/tmp)/resnet_lab_scratch

.PHONY: book test unit nbval notebook notebooks benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## book: execute every chapter with papermill (profile auto: committed artifacts, else smoke on CPU) and build the HTML
book: $(VENV)/.installed
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb (profile $(PROFILE))"; \
	  $(BIN)/papermill --log-level WARNING --execution-timeout 1800 $$nb book/$$(basename $$nb) -p profile $(PROFILE) || exit 1; \
	done
	$(BIN)/python -m resnet_lab ledger book/ledger.md
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Book: _build/html/index.html"

## test: unit tests, notebooks under nbval at smoke, negative controls, the standard dry run, then the book
## with warnings as errors and the reader's HTML check
test: browser unit nbval controls dryrun
	$(MAKE) book JB_FLAGS="-W -n --keep-going" && $(MAKE) bookcheck

## browser: Debian's chromium for the layout checks in a real browser (tests/test_book_browser.py); installed
## only where it is missing and apt-get can, as root; elsewhere those checks skip and say so
.PHONY: browser
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium could not be installed: the browser layout checks will skip"

## bookcheck: check the built HTML as a reader sees it (maths, summary cards, figures, no errors, references)
.PHONY: bookcheck
bookcheck: $(VENV)/.installed
	RESNET_LAB_BOOKCHECK=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_book_html.py tests/test_book_browser.py

unit: $(VENV)/.installed
	$(BIN)/python -m pytest -q tests

nbval: $(VENV)/.installed
	rm -rf $(SCRATCH) && mkdir -p $(SCRATCH)
	RESNET_LAB_ARTIFACTS=$(SCRATCH)/artifacts RESNET_LAB_CLAIMS=$(SCRATCH)/claims \
	  $(BIN)/python -m pytest -q --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider notebooks

## notebook NB=name: re-execute notebooks/NB.ipynb in place at smoke (the outputs nbval compares against)
notebook: $(VENV)/.installed
	rm -rf $(SCRATCH)/$(NB) && mkdir -p $(SCRATCH)/$(NB)
	RESNET_LAB_ARTIFACTS=$(SCRATCH)/$(NB)/artifacts RESNET_LAB_CLAIMS=$(SCRATCH)/$(NB)/claims \
	  $(BIN)/papermill --log-level WARNING notebooks/$(NB).ipynb notebooks/$(NB).ipynb

notebooks:
	for nb in $(NOTEBOOKS); do $(MAKE) notebook NB=$$(basename $$nb .ipynb) || exit 1; done

.PHONY: controls dryrun
## controls: every chapter's claim logic on negative controls and hand-built fixtures
controls: $(VENV)/.installed
	RESNET_LAB_ARTIFACTS=$(SCRATCH)/controls/artifacts RESNET_LAB_CLAIMS=$(SCRATCH)/controls/claims \
	  $(BIN)/python -m resnet_lab controls

## dryrun: every chapter's standard-profile code path, capped to a few steps, on the CPU (scratch folders)
# All six chapters: 4 min 42 s on one thread of the 2-core CPU (P2 137 s, P3 62 s, P5 57 s, P1 14 s).
DRYRUN_CHAPTERS ?=
dryrun: $(VENV)/.installed
	$(BIN)/python -m resnet_lab dry-run --profile standard $(DRYRUN_CHAPTERS)

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf _build book/*.ipynb book/ledger.md $(SCRATCH)
