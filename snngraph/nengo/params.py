"""Nengo parameter values -> snngraph ones: neuron types, distributions, synapses,
solvers, transforms and processes.

One function per Nengo class, registered by class (``@maps(nengo.LIF)``); a Nengo class
without one is refused by ``convert_param`` with the owner and field named. A value maps
to its exact snngraph equivalent or not at all: nothing is approximated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nengo
import numpy as np

import snngraph as sg
from snngraph.nengo.errors import UnsupportedNengo
from snngraph.schemas.ir import registrar

PARAMS: dict[type, Callable[[Any], Any]] = {}
maps = registrar(PARAMS)
"""``@maps(nengo.LIF, ...)``: register the converter of Nengo parameter classes (exact
classes; a subclass that keeps its parent's behaviour is found by ``converter_of``)."""


BEHAVIOUR = ("step", "step_math", "rates", "gain_bias", "max_rates_intercepts", "make_step",
             "make_state", "sample", "__call__", "_sample", "evaluate")
"""The methods that say what a Nengo class does: a subclass that overrides none of them
(only its constructor or defaults, like Nengo's test type ``SpikingTanh``) behaves as its
parent and maps as it."""


def converter_of(cls: type) -> Callable[[Any], Any] | None:
    """The registered converter of ``cls``, or of the nearest ancestor whose behaviour it
    inherits unchanged."""
    for ancestor in cls.__mro__:
        if ancestor in PARAMS:
            return PARAMS[ancestor]
        base = ancestor.__mro__[1] if len(ancestor.__mro__) > 1 else object
        if any(name in vars(ancestor) and hasattr(base, name) for name in BEHAVIOUR):
            return None  # it changes what its parent does: not the parent's converter
    return None


def convert_param(value: Any, owner: Any, field: str) -> Any:
    """The snngraph value of ``owner.field`` (a Nengo object's parameter)."""
    if value is None or isinstance(value, int | float | np.number | np.ndarray | str):
        return value
    if isinstance(value, nengo.transforms.ChannelShape):
        return tuple(value.shape)
    if isinstance(value, tuple | list) and all(isinstance(v, int | float) for v in value):
        return tuple(value)
    fn = converter_of(type(value))
    if fn is None:
        raise UnsupportedNengo(owner, f"{field}={value!r}: snngraph has no {type(value).__name__}"
                               f" (supported: {supported(type(value))})")
    try:
        return fn(value)
    except UnsupportedNengo:
        raise
    except (sg.SnnError, ValueError) as exc:
        raise UnsupportedNengo(owner, f"{field}={value!r}: {exc}") from None


def supported(cls: type) -> str:
    """The registered classes of ``cls``'s family (for messages)."""
    for base in (nengo.neurons.NeuronType, nengo.dists.Distribution, nengo.synapses.Synapse,
                 nengo.solvers.Solver, nengo.transforms.Transform, nengo.processes.Process):
        if issubclass(cls, base):
            return ", ".join(sorted(c.__name__ for c in PARAMS if issubclass(c, base)))
    return "none"


def same_fields(cls: type, renamed: dict[str, str] | None = None) -> Callable[[Any], Any]:
    """A converter to ``cls`` reading each of its fields from the Nengo attribute of the
    same name (or the one ``renamed`` gives), converting values that are themselves Nengo
    objects (a solver's sub-solvers, a distribution's base)."""
    renamed = renamed or {}

    def convert(value: Any) -> Any:
        kwargs = {}
        for field in cls.model_fields:
            attr = renamed.get(field, field)
            if hasattr(value, attr):
                kwargs[field] = convert_param(getattr(value, attr), value, attr)
        return cls(**kwargs)
    return convert


# ---------------------------------------------------------------- neuron types
def initial_state(n: nengo.neurons.NeuronType) -> dict[str, Any]:
    """Nengo's start of each state variable: the class default (a LIF voltage uniform on
    [0, 1)) unless the instance's ``initial_state`` names it."""
    given = dict(n.initial_state or {})
    return {name: convert_param(given.get(name, default), n, f"initial_state[{name!r}]")
            for name, default in type(n).state.items()}


def _state(n: Any) -> dict[str, Any]:
    state = initial_state(n)
    return {"initial_state": state} if state else {}


@maps(nengo.LIF)
def _lif(n: nengo.LIF) -> sg.LIF:
    return sg.LIF(tau_rc=n.tau_rc, tau_ref=n.tau_ref, min_voltage=n.min_voltage,
                  amplitude=n.amplitude, **_state(n))


@maps(nengo.LIFRate)
def _lif_rate(n: nengo.LIFRate) -> sg.LIFRate:
    return sg.LIFRate(tau_rc=n.tau_rc, tau_ref=n.tau_ref, amplitude=n.amplitude)


@maps(nengo.AdaptiveLIF)
def _adaptive_lif(n: nengo.AdaptiveLIF) -> sg.AdaptiveLIF:
    return sg.AdaptiveLIF(tau_n=n.tau_n, inc_n=n.inc_n, tau_rc=n.tau_rc, tau_ref=n.tau_ref,
                          min_voltage=n.min_voltage, amplitude=n.amplitude, **_state(n))


@maps(nengo.AdaptiveLIFRate)
def _adaptive_lif_rate(n: nengo.AdaptiveLIFRate) -> sg.AdaptiveLIFRate:
    return sg.AdaptiveLIFRate(tau_n=n.tau_n, inc_n=n.inc_n, tau_rc=n.tau_rc,
                              tau_ref=n.tau_ref, amplitude=n.amplitude, **_state(n))


@maps(nengo.Izhikevich)
def _izhikevich(n: nengo.Izhikevich) -> sg.Izhikevich:
    return sg.Izhikevich(tau_recovery=n.tau_recovery, coupling=n.coupling,
                         reset_voltage=n.reset_voltage, reset_recovery=n.reset_recovery,
                         **_state(n))


@maps(nengo.RectifiedLinear)
def _relu(n: nengo.RectifiedLinear) -> sg.RectifiedLinear:
    return sg.RectifiedLinear(amplitude=n.amplitude)


@maps(nengo.SpikingRectifiedLinear)
def _spiking_relu(n: nengo.SpikingRectifiedLinear) -> sg.SpikingRectifiedLinear:
    return sg.SpikingRectifiedLinear(amplitude=n.amplitude, **_state(n))


@maps(nengo.Sigmoid)
def _sigmoid(n: nengo.Sigmoid) -> sg.Sigmoid:
    return sg.Sigmoid(tau_ref=n.tau_ref)


@maps(nengo.Tanh)
def _tanh(n: nengo.Tanh) -> sg.Tanh:
    return sg.Tanh(tau_ref=n.tau_ref)


@maps(nengo.Direct)
def _direct(n: nengo.Direct) -> sg.Direct:
    return sg.Direct()


@maps(nengo.RegularSpiking, nengo.PoissonSpiking, nengo.StochasticSpiking)
def _wrapper(n: Any) -> Any:
    kind = next(c for c in type(n).__mro__
                if c in (nengo.RegularSpiking, nengo.PoissonSpiking, nengo.StochasticSpiking))
    cls = getattr(sg, kind.__name__)
    return cls(convert_param(n.base_type, n, "base_type"), amplitude=n.amplitude, **_state(n))


# ---------------------------------------------------------------- distributions
@maps(nengo.dists.Uniform)
def _uniform(d: nengo.dists.Uniform) -> sg.dists.Uniform:
    return sg.dists.Uniform(d.low, d.high, integer=d.integer)


@maps(nengo.dists.Gaussian)
def _gaussian(d: nengo.dists.Gaussian) -> sg.dists.Gaussian:
    return sg.dists.Gaussian(d.mean, d.std)


@maps(nengo.dists.Choice)
def _choice(d: nengo.dists.Choice) -> sg.dists.Choice:
    options = np.asarray(d.options, dtype=float)
    weights = None if d.p is None else np.asarray(d.p, dtype=float)
    return sg.dists.Choice(options, weights)


@maps(nengo.dists.UniformHypersphere)
def _hypersphere(d: nengo.dists.UniformHypersphere) -> sg.dists.UniformHypersphere:
    return sg.dists.UniformHypersphere(surface=d.surface, min_magnitude=d.min_magnitude)


for _name in ("ScatteredHypersphere", "Exponential", "CosineSimilarity", "SqrtBeta",
              "SubvectorLength", "PDF", "QuasirandomSequence"):
    maps(getattr(nengo.dists, _name))(same_fields(getattr(sg.dists, _name)))


@maps(nengo.dists.Samples)
def _samples(d: nengo.dists.Samples) -> np.ndarray:
    return np.asarray(d.samples, dtype=float)


# ---------------------------------------------------------------- synapses
@maps(nengo.Lowpass)
def _lowpass(s: nengo.Lowpass) -> sg.Lowpass:
    return sg.Lowpass(s.tau)


@maps(nengo.Alpha)
def _alpha(s: nengo.Alpha) -> sg.Alpha:
    return sg.Alpha(s.tau)


@maps(nengo.LinearFilter)
def _linear_filter(f: nengo.LinearFilter) -> sg.LinearFilter:
    return sg.LinearFilter(np.atleast_1d(f.num), np.atleast_1d(f.den), analog=f.analog,
                           method=f.method)


@maps(nengo.Triangle)
def _triangle(f: nengo.Triangle) -> sg.Triangle:
    return sg.Triangle(f.t)


# ---------------------------------------------------------------- solvers
for _name in ("Lstsq", "LstsqNoise", "LstsqMultNoise", "LstsqL2", "LstsqL2nz", "LstsqDrop",
              "Nnls", "NnlsL2", "NnlsL2nz"):
    maps(getattr(nengo.solvers, _name))(same_fields(getattr(sg, _name)))


@maps(nengo.solvers.NoSolver)
def _no_solver(s: nengo.solvers.NoSolver) -> sg.NoSolver:
    values = None if s.values is None else np.asarray(s.values, dtype=float)
    return sg.NoSolver(values, weights=s.weights)  # None: zeros, as Nengo's


# ---------------------------------------------------------------- transforms
@maps(nengo.transforms.NoTransform)
def _no_transform(t: nengo.transforms.NoTransform) -> float:
    return 1.0


@maps(nengo.Dense)
def _dense(t: nengo.Dense) -> Any:
    if isinstance(t.init, nengo.dists.Distribution):
        return sg.Dense(t.shape, init=convert_param(t.init, t, "init"))
    return np.asarray(t.init, dtype=float)


@maps(nengo.Sparse)
def _sparse(t: nengo.Sparse) -> sg.Sparse:
    """Nengo's sparse matrix (its own ``SparseMatrix``, or a SciPy one) as indices and
    values; a distribution is drawn per nonzero by snngraph."""
    init = t.init
    if isinstance(init, nengo.dists.Distribution):
        return sg.Sparse(t.shape, indices=np.asarray(t.indices),
                         init=convert_param(init, t, "init"))
    if not isinstance(init, nengo.transforms.SparseMatrix):  # scipy.sparse
        coo = init.tocoo()
        return sg.Sparse(t.shape, indices=np.stack([coo.row, coo.col], axis=1),
                         init=np.asarray(coo.data, dtype=float))
    data = init.data
    data = convert_param(data, t, "init") if isinstance(data, nengo.dists.Distribution) \
        else np.asarray(data, dtype=float)
    return sg.Sparse(t.shape, indices=np.asarray(init.indices), init=data)


maps(nengo.Convolution)(same_fields(sg.Convolution))
maps(nengo.transforms.ConvolutionTranspose)(same_fields(sg.ConvolutionTranspose))


# ---------------------------------------------------------------- processes
for _name in ("WhiteSignal", "WhiteNoise", "FilteredNoise", "BrownNoise"):
    maps(getattr(nengo.processes, _name))(same_fields(getattr(sg.processes, _name)))


@maps(nengo.processes.Piecewise)
def _piecewise(p: nengo.processes.Piecewise) -> sg.processes.Piecewise:
    if any(callable(v) for v in p.data.values()):
        raise ValueError("values given as functions of time are run on the host instead")
    return sg.processes.Piecewise({t: np.asarray(v, dtype=float) for t, v in p.data.items()},
                                  interpolation=p.interpolation, default_dt=p.default_dt)


@maps(nengo.processes.PresentInput)
def _present_input(p: nengo.processes.PresentInput) -> sg.PresentInput:
    return sg.PresentInput(np.asarray(p.inputs, dtype=float), p.presentation_time)








# ---------------------------------------------------------------- learning rules
@maps(nengo.PES, nengo.RLS, nengo.BCM, nengo.Oja, nengo.Voja)
def _learning_rule(rule: Any) -> Any:
    """A rule with the same name and parameters (its synapses converted too)."""
    cls = getattr(sg.learning_rules, type(rule).__name__)
    kwargs = {name: convert_param(getattr(rule, name), rule, name)
              for name in cls.model_fields}
    return cls(**kwargs)



