# The two commands of the README: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint format bench clean

venv:
	@bash scripts/bootstrap.sh

demo: venv
	$(BIN)/gigalearn graph demo
	$(BIN)/gigalearn wm sweep examples/wm/paper-grid-small.yaml
	$(BIN)/gigalearn wm analyze runs/paper-grid-small --config examples/wm/analyze-demo.yaml
	$(BIN)/gigalearn wm report runs/paper-grid-small

# pytest exits 5 when it collects no test: that is a broken suite, not a pass.
test: venv
	@bash scripts/system-deps.sh
	$(BIN)/ruff check gigalearn tests benchmarks
	$(BIN)/ruff format --check gigalearn tests benchmarks
	@$(BIN)/pytest; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint:
	$(BIN)/ruff check gigalearn tests benchmarks
	$(BIN)/ruff format --check gigalearn tests benchmarks

format:
	$(BIN)/ruff format gigalearn tests benchmarks
	$(BIN)/ruff check --fix gigalearn tests benchmarks

bench: venv
	$(BIN)/python benchmarks/bench_preprocess.py
	$(BIN)/python benchmarks/bench_sampling.py
	$(BIN)/python benchmarks/bench_link_prediction.py
	$(BIN)/python benchmarks/bench_wm_training.py
	$(BIN)/python benchmarks/bench_wm_fixed_points.py

clean:
	rm -rf runs .pytest_cache .ruff_cache
	find gigalearn -name '*.nbi' -delete -o -name '*.nbc' -delete  # numba's compiled kernels
