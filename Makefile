# The README's commands. Each target creates the project's virtual environment (.venv) when it is
# missing and installs the pinned set into it, then acts.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

demo: $(STAMP)
	$(PY) -m gantk demo

# Two pytest workers: the suite is dominated by XLA compilation, which is mostly single-threaded.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) -m benchmarks

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,data]'
	# --no-deps: neural-tangents declares tensorflow and tf2jax, which must never be installed.
	$(PY) -m pip install -q --no-deps -c constraints.txt neural-tangents==0.6.5
	touch $(STAMP)

clean:
	rm -rf $(VENV) runs benchmarks/results
