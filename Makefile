# busmtl: `make book` builds the Jupyter Book from fresh runs; `make test` runs the test suite.
# Either target creates .venv and installs the project first when needed.

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.busmtl-installed
# the exact versions that made the committed runs; `make install LOCK=` installs the unpinned
# ranges of pyproject.toml instead (newest releases; results may then differ from the runs)
LOCK    ?= requirements.lock
PROFILE ?= busi-cpu
DATA    ?=
JOBS    ?=
DEVICE  ?=
EXECUTOR ?=
SLURM_CONFIG ?=
SWEEP_OPTS = $(if $(JOBS),--jobs $(JOBS)) $(if $(DATA),--data-dir "$(DATA)") \
	$(if $(DEVICE),--device $(DEVICE)) $(if $(EXECUTOR),--executor $(EXECUTOR)) \
	$(if $(SLURM_CONFIG),--slurm-config "$(SLURM_CONFIG)")

.PHONY: all install test test-fast book sweep bench clean-book clean help

help:
	@echo "make book   the book from the committed BUSI reference runs (no training, no dataset)"
	@echo "make book PROFILE=quick|smoke|paper [DATA=path/to/BUSI] [JOBS=N] [DEVICE=cpu|cuda]"
	@echo "            re-run that profile's sweep (resuming) and build the book from it"
	@echo "make sweep PROFILE=... [EXECUTOR=local|slurm] [SLURM_CONFIG=slurm.yaml]   only the sweep"
	@echo "            EXECUTOR=slurm: one SLURM job array (submitit); see README"
	@echo "make test   run the test suite (CPU, about 15 minutes on 2 cores with the BUSI drift check)"
	@echo "make install [LOCK=]   the locked versions (requirements.lock); LOCK= for unpinned"
	@echo "make bench  weighting overhead benchmark"

all: book

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
ifneq ($(strip $(LOCK)),)
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
else
	$(BIN)/python -m pip install --quiet -e '.[book,dev]'
endif
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (busmtl)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

book: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/busmtl book --profile $(PROFILE) $(SWEEP_OPTS)

sweep: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/busmtl sweep --profile $(PROFILE) $(SWEEP_OPTS)

bench: $(STAMP)
	$(BIN)/busmtl bench weighting

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) .pytest_cache
