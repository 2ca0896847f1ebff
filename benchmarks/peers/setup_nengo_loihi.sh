#!/usr/bin/env bash
# Creates a venv outside the repository with NengoLoihi 1.1's emulator, for
# benchmarks/peers/nengo_loihi_models.py. NengoLoihi needs nengo 3.2 and numpy < 2, which
# snngraph's own environment cannot have, so it lives in its own venv and is never a
# dependency of snngraph. Everything comes from the package registry by name.
#
#     bash benchmarks/peers/setup_nengo_loihi.sh [VENV_DIR]   # default /tmp/nengo-loihi-venv
set -euo pipefail

VENV=${1:-/tmp/nengo-loihi-venv}
# nengo 3.2 runs on Python 3.6-3.11 and numpy 1.x has wheels up to 3.12; prefer 3.11.
PY=""
for candidate in python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY=$candidate; break; fi
done
if [ -z "$PY" ]; then
    echo "setup_nengo_loihi.sh: no python3.11, python3.10 or python3 on PATH" >&2
    exit 1
fi

"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# scipy: Nengo's decoder solvers and NengoLoihi's builder use it when present (Nengo falls
# back to numpy's lstsq without it, which changes the decoders); pinned below 1.14 with
# numpy 1.x so that pip does not pick a release built for numpy 2.
"$VENV/bin/pip" install -q "numpy>=1.21,<2" "scipy>=1.7,<1.14" "nengo==3.2.*" "nengo-loihi==1.1.*"
"$VENV/bin/python" - <<'PY'
import nengo, nengo_loihi, numpy, scipy
print("nengo", nengo.__version__, "nengo_loihi", nengo_loihi.__version__,
      "numpy", numpy.__version__, "scipy", scipy.__version__)
PY
