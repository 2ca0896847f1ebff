"""Online learning rules (Nengo's): ``Connection(..., learning_rule_type=PES())``.

A rule changes a connection's weights (or its post ensemble's encoders) during a run, step
by step, from local signals: the filtered activities of the neurons it connects and, for
error-driven rules, an error fed by connecting into ``conn.learning_rule``. The compiler
lowers each rule to one ``learn`` op (schemas/ir.py); the numba runtime runs it.

Units and step order are Nengo's: the change computed at a step is applied at the end of
it, so the weights used at step ``t`` are those updated at the end of step ``t - 1``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from snngraph.base import FieldError, Spec
from snngraph.ensemble import Ensemble
from snngraph.schemas.base import NonNegFloat
from snngraph.synapses import Lowpass, SynapseParam
from snngraph.transforms import Dense, Transform
from snngraph.views import LearningRule, Neurons, ObjView


class LearningRuleType(Spec, abstract=True):
    """Base of learning rules: what they modify, the size of their error input and the
    values a Probe of ``conn.learning_rule`` can record."""

    family: ClassVar[str] = "learning_rule"
    modifies: ClassVar[str] = "weights"
    """``decoders`` (a decoded connection's weights), ``weights`` (a neuron-to-neuron
    matrix) or ``encoders`` (the post ensemble's)."""
    error: ClassVar[str | None] = None
    """The size of the error input: ``post_state`` (the post ensemble's dimensions),
    ``scalar`` (one value), or None (no error input)."""
    probeable: ClassVar[tuple[str, ...]] = ("delta",)
    _positional: ClassVar[tuple[str, ...]] = ("learning_rate",)

    learning_rate: NonNegFloat = 1e-6
    """How fast the weights change."""


class PES(LearningRuleType):
    """Prescribed Error Sensitivity: ``delta = -learning_rate * dt / n_pre *
    outer(error, a_pre)``, driving a decoded output to reduce the error connected into
    ``conn.learning_rule`` (of the post ensemble's dimensions; on a connection into
    neurons it is projected through their encoders)."""

    modifies: ClassVar[str] = "decoders"
    error: ClassVar[str | None] = "post_state"
    probeable: ClassVar[tuple[str, ...]] = ("error", "activities", "delta")
    learning_rate: NonNegFloat = 1e-4
    """Step size of the error descent (Nengo's default 1e-4)."""
    pre_synapse: SynapseParam = Field(default_factory=lambda: Lowpass(0.005))
    """Filter on the presynaptic activities (None: unfiltered)."""

    @model_validator(mode="after")
    def _high_rate(self) -> PES:
        if self.learning_rate >= 1.0:
            warnings.warn("PES: this learning rate is very high, and can result in "
                          "floating point errors from too much current", stacklevel=4)
        return self


class RLS(LearningRuleType):
    """Recursive least squares: PES's use (minimise an error), with the inverse of the
    activities' correlation ``P`` kept online (``P`` starts at ``learning_rate * dt /
    n_pre * I``); L2-optimal, at ``O(n_pre^2)`` time and memory per step and example."""

    modifies: ClassVar[str] = "decoders"
    error: ClassVar[str | None] = "post_state"
    probeable: ClassVar[tuple[str, ...]] = ("pre_filtered", "error", "delta", "inv_gamma")
    learning_rate: NonNegFloat = 1e-3
    """The inverse of the L2 regularisation (large: little regularisation)."""
    pre_synapse: SynapseParam = Field(default_factory=lambda: Lowpass(0.005))
    """Filter on the presynaptic activities (None: unfiltered)."""


class _PrePost(LearningRuleType, abstract=True):
    """A Hebbian rule between two populations' neurons: ``post_synapse`` not given takes
    ``pre_synapse`` (Nengo's default); given as None, the post activities are unfiltered."""

    pre_synapse: SynapseParam = Field(default_factory=lambda: Lowpass(0.005))
    """Filter on the presynaptic activities (None: unfiltered)."""
    post_synapse: SynapseParam = None
    """Filter on the postsynaptic activities (not given: the same as ``pre_synapse``)."""

    @model_validator(mode="before")
    @classmethod
    def _post_follows_pre(cls, data: Any) -> Any:
        if isinstance(data, dict) and "post_synapse" not in data:
            data = dict(data, post_synapse=data.get("pre_synapse", Lowpass(0.005)))
        return data


class BCM(_PrePost):
    """Bienenstock-Cooper-Munro: ``delta = learning_rate * dt * outer(a_post * (a_post -
    theta), a_pre)``, ``theta`` the post activities filtered by ``theta_synapse``."""

    probeable: ClassVar[tuple[str, ...]] = ("theta", "pre_filtered", "post_filtered", "delta")
    learning_rate: NonNegFloat = 1e-9
    """Step size (Nengo's default 1e-9)."""
    theta_synapse: SynapseParam = Field(default_factory=lambda: Lowpass(1.0))
    """Filter giving ``theta``, the running average of the post activities."""


class Oja(_PrePost):
    """Oja's Hebbian rule with forgetting: ``delta = learning_rate * dt * (outer(a_post,
    a_pre) - beta * a_post^2 * W)`` (row ``j`` of ``W`` decays with ``a_post[j]^2``)."""

    probeable: ClassVar[tuple[str, ...]] = ("pre_filtered", "post_filtered", "delta")
    learning_rate: NonNegFloat = 1e-6
    """Step size (Nengo's default 1e-6)."""
    beta: NonNegFloat = 1.0
    """Weight of the forgetting term."""


class Voja(LearningRuleType):
    """Vector Oja: moves the post ensemble's encoders towards its input ``x`` where its
    neurons are active: ``delta = learning_rate * dt * s * a_post (gain / radius * x -
    e)`` on the scaled encoders ``e``, ``s`` = 1 + the scalar connected into
    ``conn.learning_rule`` (0 stops learning, as in Nengo)."""

    modifies: ClassVar[str] = "encoders"
    error: ClassVar[str | None] = "scalar"
    probeable: ClassVar[tuple[str, ...]] = ("post_filtered", "scaled_encoders", "delta")
    learning_rate: NonNegFloat = 1e-2
    """Step size (Nengo's default 1e-2)."""
    post_synapse: SynapseParam = Field(default_factory=lambda: Lowpass(0.005))
    """Filter on the postsynaptic activities (None: unfiltered)."""


# ---------------------------------------------------------------- checks on a connection
def rules_of(conn: Any) -> list[tuple[Any, LearningRuleType]]:
    """``(key, rule)`` for each of a connection's rules (key None for a single rule)."""
    types = conn.learning_rule_type
    if isinstance(types, dict):
        return list(types.items())
    if isinstance(types, list):
        return list(enumerate(types))
    return [] if types is None else [(None, types)]


def check_rules(conn: Any) -> None:
    """Nengo's checks of ``learning_rule_type`` against the connection (raised as a
    FieldError on ``learning_rule_type``, naming the rule and what it needs)."""
    for key, rule in rules_of(conn):
        where = f"{type(rule).__name__}" + ("" if key is None else f" [{key!r}]")
        problem = _problem(conn, rule)
        if problem:
            raise FieldError("learning_rule_type", conn.learning_rule_type,
                             f"a rule this connection can run: {where} {problem}")


def _problem(conn: Any, rule: LearningRuleType) -> str:
    if isinstance(conn.post, LearningRule):
        return "cannot learn on a connection into another learning rule"
    if rule.modifies == "encoders":
        return _encoders_problem(conn)
    pre = conn.pre.obj if isinstance(conn.pre, ObjView) else conn.pre
    if not isinstance(pre, Ensemble | Neurons):
        return (f"needs 'pre' to be an Ensemble or ens.neurons (its neurons' activities "
                f"drive it); got a {type(pre).__name__}, {conn.pre!r}")
    if isinstance(pre, Ensemble) and type(pre.neuron_type).__name__ == "Direct":
        return ("cannot learn from a Direct ensemble: its connections have no decoders or "
                "weights, as in Nengo")
    t = conn.transform
    if isinstance(t, Transform) and not isinstance(t, Dense):
        return (f"needs a matrix transform (an array or Dense) to learn, not "
                f"{type(t).__name__}, as in Nengo")
    if isinstance(t, Dense) and t.bias is not None and t.bias is not False:
        return "learns the weights of a Dense transform without a bias (bias is set)"
    if not isinstance(pre, Ensemble) and not _two_dimensional(t):
        return (f"needs a 2-D transform of shape ({conn.size_out}, {conn.size_in}) to learn "
                f"a neuron connection's weights (got {np.ndim(t)}-D): as in Nengo, "
                "'transform' must be a 2-dimensional array for learning")
    if rule.modifies == "weights":
        return _weights_problem(conn)
    if isinstance(rule, RLS) and _into_neurons(conn):
        return "cannot learn a connection into ens.neurons (its error has the post " \
               "ensemble's dimensions; connect into the Ensemble)"
    return ""


def _two_dimensional(t: Any) -> bool:
    if isinstance(t, Dense):
        return isinstance(t.init, np.ndarray) and t.init.ndim == 2 or \
            not isinstance(t.init, float | np.ndarray)
    return np.ndim(t) == 2


def _into_neurons(conn: Any) -> bool:
    post = conn.post.obj if isinstance(conn.post, ObjView) else conn.post
    return isinstance(post, Neurons)


def _weights_problem(conn: Any) -> str:
    """BCM and Oja: a full matrix between all neurons of two ensembles (given, or solved
    by a solver with ``weights=True`` between two whole ensembles, as in Nengo)."""
    neurons = isinstance(conn.pre, Neurons) and isinstance(conn.post, Neurons)
    solved = isinstance(conn.pre, Ensemble) and isinstance(conn.post, Ensemble) and \
        getattr(conn.solver, "weights", False)
    if not (neurons or solved):
        return (f"needs a neuron-to-neuron weight matrix: connect a.neurons to b.neurons "
                f"(whole, unsliced) with a 2-D transform, or two whole ensembles with a "
                f"solver with weights=True (got {conn.pre!r} -> {conn.post!r})")
    return ""


def _encoders_problem(conn: Any) -> str:
    post = conn.post.obj if isinstance(conn.post, ObjView) else conn.post
    if isinstance(post, Neurons):
        return ("cannot learn encoders on a connection into ens.neurons (the encoders "
                "are not used there); connect into the Ensemble")
    if not isinstance(post, Ensemble):
        return f"needs 'post' to be an Ensemble (got a {type(post).__name__}, {post!r})"
    return ""
