"""snngraph: a graph description language and compiler for spiking neural networks.

Declare networks in with-blocks (``with sg.Network() as net:``), save and load them as
description documents (``sg.save``, ``sg.load``), compile them (``sg.compile``) and run or
train them (``sg.Simulator``: Numba CPU, emulated Loihi, the differentiable rate runtime
and training through time). docs/architecture.md describes the layout.
"""

from snngraph import (
    callbacks,
    datasets,
    dists,
    learning_rules,
    losses,
    metrics,
    optim,
    plot,
    processes,
    surrogates,
)
from snngraph.blockshape import BlockShape
from snngraph.connection import Connection
from snngraph.decode_neurons import DecodeNeurons
from snngraph.document import load, save
from snngraph.ensemble import Ensemble
from snngraph.errors import (
    ArgumentError,
    CompileError,
    NetworkContextError,
    SerializationError,
    SimulationError,
    SnnError,
    ValidationError,
)
from snngraph.layers import AvgPool2D, Conv2D, Layer, MaxPool2D
from snngraph.network import Network
from snngraph.neurons import (
    LI,
    LIF,
    NIRIF,
    NIRLI,
    NIRLIF,
    AdaptiveLIF,
    AdaptiveLIFRate,
    CubaLIF,
    Direct,
    Izhikevich,
    Leaky,
    LIFRate,
    LoihiLIF,
    LoihiSpikingRectifiedLinear,
    NeuronType,
    NIRCubaLI,
    NIRCubaLIF,
    NIRIntegrator,
    NIRThreshold,
    PoissonSpiking,
    RectifiedLinear,
    RegularSpiking,
    Sigmoid,
    SpikingRectifiedLinear,
    StochasticSpiking,
    Tanh,
)
from snngraph.node import Node
from snngraph.probe import Probe
from snngraph.processes import (
    ConstantCurrentLIFEncoder,
    PoissonEncoder,
    PresentInput,
    SpikeLatencyLIFEncoder,
)
from snngraph.solvers import (
    Lstsq,
    LstsqDrop,
    LstsqL2,
    LstsqL2nz,
    LstsqMultNoise,
    LstsqNoise,
    Nnls,
    NnlsL2,
    NnlsL2nz,
    NoSolver,
    Solver,
)
from snngraph.summary import summary
from snngraph.synapses import Alpha, Delay, LinearFilter, Lowpass, Triangle
from snngraph.transforms import Convolution, ConvolutionTranspose, Dense, Pooling, Sparse
from snngraph.views import LearningRule, Neurons, ObjView

__version__ = "0.1.0"


def __getattr__(name):
    """``sg.Simulator`` is imported on first use (it pulls in Numba)."""
    if name == "Simulator":
        from snngraph.runtimes.simulator import Simulator

        return Simulator
    if name == "nir":  # NIR import and export (extra "nir"): imported on first use
        import importlib

        return importlib.import_module("snngraph.nir")
    if name == "sweep":  # evaluate a grid of settings, here or on a Dask cluster
        from snngraph.runtimes.distributed.sweep import sweep

        return sweep
    if name == "from_nengo":  # needs Nengo (extra "nengo"): imported on first use
        from snngraph.nengo import from_nengo

        return from_nengo
    raise AttributeError(f"module 'snngraph' has no attribute {name!r}")


def compile(net, target="cpu", **kwargs):  # noqa: A001 - the public name users expect
    """Compile a network for a target (see ``snngraph.compiler.pipeline.compile``)."""
    from snngraph.compiler.pipeline import compile as _compile

    return _compile(net, target=target, **kwargs)

__all__ = [
    "LI", "LIF", "AdaptiveLIF", "AdaptiveLIFRate", "Direct", "Izhikevich", "PoissonSpiking",
    "RegularSpiking", "StochasticSpiking",
    "Alpha", "ArgumentError", "AvgPool2D", "BlockShape", "CompileError", "Connection",
    "DecodeNeurons",
    "ConstantCurrentLIFEncoder", "plot",
    "Conv2D", "Convolution", "ConvolutionTranspose", "CubaLIF", "Delay", "Dense", "Ensemble",
    "LIFRate", "Layer", "LearningRule", "Leaky", "Simulator", "compile", "from_nengo",
    "LinearFilter", "LoihiLIF", "LoihiSpikingRectifiedLinear", "Lowpass", "Lstsq",
    "LstsqDrop", "LstsqL2", "LstsqL2nz", "LstsqMultNoise", "LstsqNoise", "Nnls", "NnlsL2",
    "NnlsL2nz", "Solver",
    "MaxPool2D", "NIRCubaLI", "NIRCubaLIF", "NIRIF", "NIRIntegrator", "NIRLI", "NIRLIF",
    "NIRThreshold", "Network", "NoSolver", "NetworkContextError", "NeuronType", "Neurons",
    "Node", "ObjView",
    "PoissonEncoder", "Pooling", "PresentInput", "Probe", "RectifiedLinear",
    "SerializationError", "Sigmoid", "SimulationError", "SnnError", "Sparse",
    "SpikeLatencyLIFEncoder", "SpikingRectifiedLinear", "Tanh", "Triangle", "ValidationError",
    "callbacks", "datasets", "dists", "learning_rules", "load",
    "losses", "metrics", "optim", "processes", "surrogates", "save", "summary", "sweep",
]
