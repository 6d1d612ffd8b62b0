# gcm-sim developer entry points. `make run` and `make test` build .venv on first use.
# The interpreter is Python 3.12 (.python-version): python3.12 if on PATH, else
# pyenv's 3.12 through python3, else plain python3.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BOOT_PY := $(shell if command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' >/dev/null 2>&1; then echo python3.12; \
	elif PYENV_VERSION=3.12 python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; then echo 'PYENV_VERSION=3.12 python3'; \
	else echo python3; fi)

.PHONY: run test test-slow venv clean-venv

venv: $(STAMP)

$(PY):
	$(BOOT_PY) -m venv $(VENV)

# Reinstall when the package metadata changes (editable install: code changes need nothing).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Baseline and one policy on the default world, paired seeds; prints the summary.
run: $(STAMP)
	$(VENV)/bin/gcm-sim compare visa_liberalisation run.workers=2 hydra.run.dir=outputs/make-run
	@echo "report: outputs/make-run/report.md"

test: $(STAMP)
	$(PY) -m pytest -x -q -n 2

test-slow: $(STAMP)
	$(PY) -m pytest -x -q -m slow

clean-venv:
	rm -rf $(VENV)
