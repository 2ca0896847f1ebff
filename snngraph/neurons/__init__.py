"""Neuron types, one module per family (its parameters and its math)."""

from snngraph.neurons.base import Compartment, NeuronType, kernel_helper
from snngraph.neurons.cuba import CubaLIF
from snngraph.neurons.leaky import Leaky
from snngraph.neurons.li import LI
from snngraph.neurons.lif import LIF, LIFRate
from snngraph.neurons.loihi import LoihiLIF, LoihiSpikingRectifiedLinear
from snngraph.neurons.relu import RectifiedLinear, SpikingRectifiedLinear
from snngraph.neurons.sigmoid import Sigmoid, Tanh

__all__ = [
    "LI", "LIF", "Compartment", "CubaLIF", "Leaky", "LIFRate", "LoihiLIF",
    "LoihiSpikingRectifiedLinear", "NeuronType", "RectifiedLinear", "Sigmoid",
    "SpikingRectifiedLinear", "Tanh", "kernel_helper",
]
