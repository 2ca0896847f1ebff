"""Neuron types, one module per family (its parameters and its math)."""

from snngraph.neurons.adaptive import AdaptiveLIF, AdaptiveLIFRate
from snngraph.neurons.base import Compartment, NeuronType, kernel_helper
from snngraph.neurons.cuba import CubaLIF
from snngraph.neurons.direct import Direct
from snngraph.neurons.izhikevich import Izhikevich
from snngraph.neurons.leaky import Leaky
from snngraph.neurons.li import LI
from snngraph.neurons.lif import LIF, LIFRate
from snngraph.neurons.loihi import LoihiLIF, LoihiSpikingRectifiedLinear
from snngraph.neurons.nir_cells import (
    NIRIF,
    NIRLI,
    NIRLIF,
    NIRCubaLI,
    NIRCubaLIF,
    NIRIntegrator,
    NIRThreshold,
)
from snngraph.neurons.relu import RectifiedLinear, SpikingRectifiedLinear
from snngraph.neurons.sigmoid import Sigmoid, Tanh
from snngraph.neurons.wrappers import PoissonSpiking, RegularSpiking, StochasticSpiking

__all__ = [
    "LI", "LIF", "AdaptiveLIF", "AdaptiveLIFRate", "Compartment", "CubaLIF", "Direct",
    "Izhikevich", "Leaky", "LIFRate", "LoihiLIF", "NIRCubaLI", "NIRCubaLIF", "NIRIF",
    "NIRIntegrator", "NIRLI", "NIRLIF", "NIRThreshold", "LoihiSpikingRectifiedLinear", "NeuronType",
    "PoissonSpiking", "RectifiedLinear", "RegularSpiking", "Sigmoid", "SpikingRectifiedLinear",
    "StochasticSpiking", "Tanh", "kernel_helper",
]
