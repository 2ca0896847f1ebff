"""Re-create ``mnist_subset.npz``, the small MNIST subset bundled with snngraph.

The subset is the first ``N_TRAIN`` training images and labels and the first
``N_TEST`` test images and labels of the full MNIST IDX files, stored uint8 with
``np.savez_compressed`` under the keys x_train, y_train, x_test, y_test.

Usage (from the repository root, with snngraph importable)::

    SNNGRAPH_DATA=/path/to/data python -m snngraph.data.make_subset
    python -m snngraph.data.make_subset /path/to/data/mnist

The directory is the one holding the four IDX files (raw or .gz), or its parent with a
``mnist/`` folder, as for ``snngraph.datasets.load_mnist(path=...)``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from snngraph.datasets import load_mnist

N_TRAIN = 5000
N_TEST = 1000
# The subset ships inside the package, so it must stay small.
MAX_BYTES = 2_000_000
OUT = Path(__file__).with_name("mnist_subset.npz")


def main(argv: list[str] | None = None) -> int:
    """Build the subset from the directory in ``argv[0]`` or ``$SNNGRAPH_DATA``."""
    argv = sys.argv[1:] if argv is None else argv
    source = argv[0] if argv else os.environ.get("SNNGRAPH_DATA")
    if not source:
        print("usage: make_subset.py MNIST_DIR (or set SNNGRAPH_DATA)", file=sys.stderr)
        return 2
    # An explicit path never falls back to the bundled subset, so we cannot
    # accidentally rebuild the subset from itself.
    (x_train, y_train), (x_test, y_test) = load_mnist(path=source)
    if len(x_train) != 60000 or len(x_test) != 10000:
        print(
            f"expected the full set (60000/10000), found {len(x_train)}/{len(x_test)}",
            file=sys.stderr,
        )
        return 1
    np.savez_compressed(
        OUT,
        x_train=x_train[:N_TRAIN],
        y_train=y_train[:N_TRAIN],
        x_test=x_test[:N_TEST],
        y_test=y_test[:N_TEST],
    )
    size = OUT.stat().st_size
    print(f"wrote {OUT}: {size} bytes, {N_TRAIN} train / {N_TEST} test images")
    if size > MAX_BYTES:
        print(f"{OUT} is {size} bytes, over the {MAX_BYTES}-byte limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
