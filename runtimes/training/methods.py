"""How one minibatch runs forward and backward, per training method, and the model
protocol the loop relies on.

The loop (loop.py) knows only a ``Method``: ``run`` a minibatch forward (outputs per
example and step, the tape for the reverse pass, every op's values for the non-finite
report), ``gradient`` (a loss's gradient in the model's layout) and ``model`` (a
``TrainableModel``: its parameters, what it trains, ``backward``).

``RateMethod``: every step of every example is an independent row at steady state, so a
minibatch of ``b`` examples with ``T`` steps is one forward pass over ``b * T`` rows.
``BpttMethod``: the spiking program unrolled over all ``T`` steps at once; feeds that do
not change over time (one step, or a broadcast view with stride 0 along the steps) stay
one row per example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TrainableModel(Protocol):
    """A differentiable model of a compiled program, as the loop uses it."""

    ir: Any
    params: dict[str, np.ndarray]  # float32 arrays by parameter key, updated in place
    trainable: set[str]  # the keys training changes

    def needed(self, outputs: list[str]) -> list[str]:
        """The ops ``outputs`` depend on, in order (to name the first non-finite one)."""

    def backward(self, tape: Any, dys: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Gradients of the trainable parameters from ``d loss / d output`` per probe."""


class Method(Protocol):
    model: TrainableModel

    def run(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
            outputs: list[str], train: bool, epoch: int
            ) -> tuple[dict[str, np.ndarray], Any, dict[str, np.ndarray]]:
        """``(outputs [examples, steps, size], tape, every op's values)``."""

    def gradient(self, grad: np.ndarray) -> np.ndarray:
        """A loss's ``[examples, steps, size]`` gradient in the layout ``backward`` takes."""


class RateMethod:
    """The rate model (``runtimes/rate/model.py``): rows are ``example x step``."""

    def __init__(self, model: Any):
        self.model = model

    def run(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
            outputs: list[str], train: bool, epoch: int) -> tuple[dict, Any, dict]:
        rows = len(idx) * steps
        fed = {k: np.broadcast_to(v[idx], (len(idx), steps, v.shape[2])).reshape(rows, -1)
               for k, v in feeds.items()}
        values, tape = self.model.forward(fed, outputs, rows)
        ys = {name: values[name].reshape(len(idx), steps, -1) for name in outputs}
        return ys, tape, values

    def gradient(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(-1, grad.shape[-1])  # [examples, steps, size] as rows


class BpttMethod:
    """The spiking model unrolled through time (``runtimes/bptt/model.py``); with
    ``model.checkpoint_every`` it keeps the tape one segment of steps at a time."""

    def __init__(self, model: Any):
        self.model = model

    def run(self, feeds: dict[str, np.ndarray], idx: np.ndarray, steps: int,
            outputs: list[str], train: bool, epoch: int) -> tuple[dict, Any, dict]:
        from snngraph.runtimes.bptt.model import to_examples

        model = self.model
        fed = {k: (v[idx, :1] if v.shape[1] > 1 and v.strides[1] == 0 else v[idx])
               for k, v in feeds.items()}
        # random draws: those of ``predict`` for these examples when evaluating, new ones
        # every epoch when training
        model.examples = idx
        model.noise = epoch + 1 if train else 0
        every = getattr(model, "checkpoint_every", None)
        if every and every < steps:
            values, tape = model.forward_segments(fed, outputs, steps, len(idx), every)
        else:
            values, tape = model.forward_steps(fed, outputs, steps, len(idx))
            tape = (values, tape)
        ys = {name: to_examples(values[name], steps, len(idx)) for name in outputs}
        return ys, tape, {k: v.data for k, v in values.items()}

    def gradient(self, grad: np.ndarray) -> np.ndarray:
        from snngraph.runtimes.bptt.model import to_time_major

        return to_time_major(np.asarray(grad, np.float32))


def method_for(name: str, model: Any) -> Method:
    return {"rate": RateMethod, "bptt": BpttMethod}[name](model)


METHOD_TEXT = {
    "rate": "training the rate equivalent (method='rate': every step a steady state)",
    "bptt": "training through time (method='bptt': spiking forward pass, surrogate "
            "gradients)",
}


def choose_method(steps: int, spiking_program: Callable[[], Any]) -> tuple[str, str]:
    """``(method, why)`` for ``fit(method=None)``: ``bptt`` for data over time when some
    neuron has a surrogate (given, or its type's documented default) and every stateful
    neuron can be trained through time; else ``rate``. ``spiking_program()`` compiles
    the program training through time would unroll (only called for data over time)."""
    if steps < 2:
        return "rate", ("the data have 1 step per example: nothing to unroll through "
                        "time (give x as [examples, steps, size], or n_steps=T)")
    from snngraph.document import spec_from_dict

    neurons = [(spec_from_dict(op.neuron), op) for op in spiking_program().ir.ops()
               if op.op == "neurons"]
    given = [(n, op) for n, op in neurons if n.surrogate is not None]
    if given:
        n, op = given[0]
        return "bptt", (f"{_who(n, op)} carry the surrogate {n.surrogate!r} and the data "
                        f"have {steps} steps")
    cannot = [(n, op) for n, op in neurons
              if (n.spiking or n.state) and n.bptt_kernels() is None]
    default = [(n, op) for n, op in neurons if n.training_surrogate() is not None]
    if default and not cannot:
        n, op = default[0]
        return "bptt", (f"{_who(n, op)} train through time with their type's default "
                        f"surrogate {n.training_surrogate()!r} and the data have {steps} "
                        "steps")
    if cannot:
        n, op = cannot[0]
        return "rate", (f"{_who(n, op)} have no surrogate gradient and cannot be "
                        "trained through time, so their rate equivalent is trained")
    return "rate", ("no neuron spikes with a surrogate gradient (none given, none by "
                    "type), so every step is trained as a steady state; "
                    "method='bptt' unrolls the steps anyway")


def _who(neuron: Any, op: Any) -> str:
    """``Leaky neurons (Ensemble 'lif1')``: a neuron op's type and user object."""
    objs = ", ".join(o.obj for o in op.src) or op.name
    return f"{type(neuron).__name__} neurons ({objs})"
