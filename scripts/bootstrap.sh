#!/usr/bin/env bash
# Create .venv and install gigalearn with everything it needs. Safe to re-run: it only
# installs what is missing. Used by `make demo`, `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
# torch first and pinned: an unpinned torch requirement would pull a CUDA build of several GB.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/pip" install -q "torch==${TORCH_VERSION:-2.13.0}"
fi
stamp="$VENV/.gigalearn-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/pip" install -q -e ".[graph,spark,distributed,dev]"
  touch "$stamp"
fi
