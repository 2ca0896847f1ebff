"""Small W1 and W2 pages for the viewer's tests (few examples, few steps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import load_example

import snngraph as sg
from snngraph.view import view

W2_OPTIONS = {"scale_firing_rates": 100, "synapse": 0.005}


def data_file(folder: Path, examples: int = 4, steps: int = 5) -> Path:
    """The first bundled test images, held for ``steps`` steps."""
    (_, _), (x, _) = sg.datasets.load_mnist(subset="bundled")
    path = folder / "data.npz"
    np.savez(path, x=x[:examples].reshape(examples, -1).astype(np.float32),
             n_steps=np.int64(steps))
    return path


def w1_net() -> sg.Network:
    return load_example("w1_spiking_mnist").build()


def w2_net() -> sg.Network:
    return load_example("w2_keras_to_loihi").build(sg.LoihiSpikingRectifiedLinear())


def w1_page(folder: Path) -> tuple[Path, sg.compiler.program.Program]:
    """W1 on the numba runtime, with measured rates; and the program it shows."""
    path = view(w1_net(), folder / "w1.html", data=data_file(folder))
    return path, sg.compile(w1_net(), target="cpu")


def w2_page(folder: Path) -> tuple[Path, sg.compiler.program.Program]:
    """W2 on the emulated Loihi, with measured rates and energy."""
    path = view(w2_net(), folder / "w2.html", target="loihi", data=data_file(folder),
                **W2_OPTIONS)
    return path, sg.compile(w2_net(), target="loihi", **W2_OPTIONS)
