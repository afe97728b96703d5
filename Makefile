# Set-up and everyday commands. `make demo` and `make test` do all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench graphviz clean

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

graphviz:
	@bash scripts/install-graphviz.sh

demo: $(BIN)/activate graphviz
	$(BIN)/pip install -q -e '.[examples]'
	$(BIN)/tinygraph demo

test: $(BIN)/activate graphviz
	$(BIN)/pip install -q -e '.[test,train,examples,notebook,digits,distributed]'
	$(BIN)/python -m pytest

lint: $(BIN)/activate
	$(BIN)/pip install -q -e '.[lint]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/activate
	$(BIN)/pip install -q -e .
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
