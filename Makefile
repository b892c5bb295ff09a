# deepcorrect — the two commands a newcomer needs: `make book` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PROFILE ?= smoke
BOOK_ARGS ?=

.PHONY: help venv book test test-slow test-all check-book check-editions bench clean

help:
	@echo "make book        build the whole book on the embedded default profile (CPU, no download)"
	@echo "make test        run the fast tier of the test suite (about 3 minutes on 2 cores)"
	@echo "make test-all    run every test: the fast tier, then every notebook, multi-process and kill/resume run"
	@echo "make check-book  screenshot every page of the built book in headless Chromium and check it"
	@echo "make check-editions  recompute a cheap slice of every recorded edition and fail if it moved"
	@echo "make bench       run the benchmarks in bench/"
	@echo "make book PROFILE=cifar10-jpg BOOK_ARGS='-p epochs=5'   another profile"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch 2.14.1 / torchvision 0.29.1 install here without a multi-GB download; any torch >= 2.4 works
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[book,test]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/deepcorrect book --profile $(PROFILE) --jobs 2 $(if $(CI),--strict) $(BOOK_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: test test-slow

check-book: $(STAMP)
	$(BIN)/deepcorrect check-book

check-editions: $(STAMP)
	$(BIN)/deepcorrect check-editions

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf _build book/*.ipynb book/_profile.md book/_map.md book/_scoreboard.md check-book
