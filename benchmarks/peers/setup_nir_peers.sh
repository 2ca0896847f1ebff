#!/usr/bin/env bash
# Creates a venv outside the repository with snnTorch 1.0.0, Norse 1.1.0 and nir 1.0.8, for
# benchmarks/peers/nir_fixtures.py (recording the NIR fixtures in tests/data/nir/ and checking
# graphs exported by snngraph in the peers' importers). torch is never a dependency of
# snngraph: it lives only in this venv.
#
#     bash benchmarks/peers/setup_nir_peers.sh [VENV_DIR]   # default /tmp/peers
#
# torch is pinned to 2.13.0, the CPU build: any looser spec (or letting snntorch/norse pull
# their dependencies, norse declares torchvision) makes pip fetch a CUDA build of several GB.
# So snntorch and norse are installed with --no-deps and their few runtime needs are named
# explicitly below.
set -euo pipefail

VENV=${1:-/tmp/peers}
PY=""
# torch 2.13.0's CPU wheel here is built for CPython 3.11; nir 1.0.8 needs Python >= 3.10.
for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY=$candidate; break; fi
done
if [ -z "$PY" ]; then
    echo "setup_nir_peers.sh: no python3.11 or python3 on PATH" >&2
    exit 1
fi

"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "torch==2.13.0" numpy h5py "nir==1.0.8" nirtorch
# snntorch 1.0.0 and norse 1.1.0 without their declared dependencies (norse's torchvision
# would replace the CPU torch). Importing them needs only torch, numpy, nir and nirtorch, all
# installed above; norse uses matplotlib only if it is present.
"$VENV/bin/pip" install -q --no-deps "snntorch==1.0.0" "norse==1.1.0"
"$VENV/bin/python" - <<'PY'
import nir, nirtorch, norse, numpy, snntorch, torch
print("torch", torch.__version__, "snntorch", snntorch.__version__, "norse",
      getattr(norse, "__version__", "?"), "nir", nir.__version__, "nirtorch",
      getattr(nirtorch, "__version__", "?"), "numpy", numpy.__version__)
assert torch.__version__.startswith("2.13.0"), torch.__version__
assert nir.__version__ == "1.0.8", nir.__version__
PY
