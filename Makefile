# Two entry points for a fresh machine: `make demo` (set up + main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build first, from local disk on the dev machines; an unpinned torch would pull CUDA.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[onnx,postgres,test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/cnnspace analyze squeezenet1_1 --input 1x32x32
	$(BIN)/cnnspace explore examples/studies/demo.yaml --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/analytic_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
