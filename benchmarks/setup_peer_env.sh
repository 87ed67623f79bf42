#!/usr/bin/env bash
# Build the *peer* environment for benchmarks/bench_sampling.py: a separate venv with
# PyG + torch-scatter + torch-sparse, so PyG's own NeighborLoader can be measured on the
# same graphs. The project itself never needs torch-sparse; only this benchmark venv does.
#
#   bash benchmarks/setup_peer_env.sh            # -> benchmarks/.venv-peer (5-20 min: compiles C++)
#   PEER_VENV=/tmp/peer bash benchmarks/setup_peer_env.sh
#
# torch-scatter / torch-sparse have no wheels for torch 2.13 on PyPI, so they are built from
# the sdist against the venv's torch (--no-build-isolation). The latest release is tried first;
# if it fails, one older release of each is tried once. Exit code 0 only if
# `from torch_geometric.loader import NeighborLoader` can actually sample.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${PEER_VENV:-benchmarks/.venv-peer}
PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
export MAX_JOBS=${MAX_JOBS:-2}
export FORCE_ONLY_CPU=1 FORCE_CUDA=0 WITH_METIS=0

t0=$(date +%s)
log() { echo "[setup_peer_env +$(( $(date +%s) - t0 ))s] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV" || exit 1
  "$VENV/bin/pip" install -q --upgrade pip || exit 1
fi
PIP="$VENV/bin/pip"
# torch pinned: an unpinned torch would pull a CUDA build of several GB.
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$PIP" install -q "torch==$TORCH_VERSION" || exit 1
"$PIP" install -q setuptools wheel ninja torch_geometric || exit 1
log "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"

build() {  # build <package> <version...>: first version that builds wins
  local pkg=$1; shift
  if "$VENV/bin/python" -c "import ${pkg//-/_}" 2>/dev/null; then log "$pkg already installed"; return 0; fi
  for v in "$@"; do
    log "building $pkg==$v from source (MAX_JOBS=$MAX_JOBS)"
    local s=$(date +%s)
    if "$PIP" install --no-build-isolation --no-binary "$pkg" "$pkg==$v"; then
      log "$pkg==$v built in $(( $(date +%s) - s ))s"
      return 0
    fi
    log "FAILED: $pkg==$v after $(( $(date +%s) - s ))s"
  done
  return 1
}

build torch-scatter 2.1.2 2.1.1 || { log "peer unavailable: torch-scatter did not build"; exit 2; }
build torch-sparse 0.6.18 0.6.17 || { log "peer unavailable: torch-sparse did not build"; exit 2; }

# The same benchmark script must run in this venv (it imports gigalearn for the graph store).
"$PIP" install -q -e "$ROOT[graph]" || "$PIP" install -q -e "$ROOT" || exit 1

"$VENV/bin/python" - <<'EOF' || { log "peer unavailable: NeighborLoader smoke test failed"; exit 3; }
import torch, torch_sparse, torch_geometric
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader
ei = torch.randint(0, 100, (2, 1000))
d = Data(edge_index=ei, num_nodes=100)
b = next(iter(NeighborLoader(d, num_neighbors=[5, 5], batch_size=10)))
print("peer ok: torch", torch.__version__, "torch_sparse", torch_sparse.__version__,
      "pyg", torch_geometric.__version__, "sampled edges", b.edge_index.size(1))
EOF
log "done"
