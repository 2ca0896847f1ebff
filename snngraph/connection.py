"""``Connection``: pre -> (function) -> transform -> synapse -> post.

Shapes are checked when the connection is made: the pre's output (or the function's
output for decoded connections) must match the transform's input, and the transform's
output the post's input; the message shows both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from snngraph.base import FieldError, SnnObject
from snngraph.dists import Distribution
from snngraph.ensemble import Ensemble
from snngraph.errors import short_repr
from snngraph.learning_rules import LearningRuleType, check_rules
from snngraph.node import Node
from snngraph.schemas.base import Array, Bool, Float, ref_to
from snngraph.solvers import LstsqL2, Solver
from snngraph.synapses import Lowpass, SynapseParam
from snngraph.transforms import Transform
from snngraph.views import LearningRule, Neurons, ObjView

ENDPOINTS = (Ensemble, Neurons, Node, ObjView)
Endpoint = ref_to(ENDPOINTS, "an Ensemble, ens.neurons, a Node, or a slice of one")
PostEndpoint = ref_to((*ENDPOINTS, LearningRule), "an Ensemble, ens.neurons, a Node, a slice "
                      "of one, or a connection's learning_rule")
RuleTypes = LearningRuleType | list[LearningRuleType] | dict[str, LearningRuleType] | None


def base_object(endpoint: Any) -> Any:
    """The ensemble or node behind an endpoint (through views and ``.neurons``; the
    connection behind a learning rule)."""
    while isinstance(endpoint, ObjView | Neurons | LearningRule):
        endpoint = endpoint.obj if isinstance(endpoint, ObjView) else \
            endpoint.ensemble if isinstance(endpoint, Neurons) else endpoint.connection
    return endpoint


def decodes(endpoint: Any) -> bool:
    """True when an endpoint is an ensemble's decoded vector (not its neurons)."""
    while isinstance(endpoint, ObjView):
        endpoint = endpoint.obj
    return isinstance(endpoint, Ensemble)


class Connection(SnnObject):
    """Connects ``pre`` to ``post`` through an optional ``function`` (NEF decoding,
    solved by ``solver`` over ``eval_points``), a ``transform`` and a ``synapse``."""

    _positional: ClassVar[tuple[str, ...]] = ("pre", "post")
    probeable: ClassVar[tuple[str, ...]] = ("output", "input", "weights")

    pre: Endpoint
    """Where the connection starts: an ensemble (its decoded vector), ``ens.neurons``, a node, or a
    slice of one (``ens[0]``)."""
    post: PostEndpoint
    """Where it ends: an ensemble (its input vector), ``ens.neurons``, a node, or a slice."""
    synapse: SynapseParam = Field(default_factory=lambda: Lowpass(0.005))
    """Filter on the connection: a Synapse, a time constant in seconds (a Lowpass), or None for
    none; default a 5 ms lowpass, as in Nengo."""
    transform: Float | Array | Transform = 1.0
    """Linear map after ``function``: a scalar, an array, or a Transform (Dense, Sparse,
    Convolution, Pooling)."""
    function: Callable | Array | None = None
    """NEF: a Python function of the decoded value, solved for as decoders (ensemble ``pre`` only),
    or its values at ``eval_points`` (an array, one row per point, as Nengo allows);
    None decodes the identity."""
    solver: Solver = Field(default_factory=LstsqL2)
    """How decoders are found from the neurons' activities (``LstsqL2`` by default,
    ``NoSolver(values)`` for given decoders)."""
    eval_points: Array | Distribution | None = None
    """Points where ``function`` is evaluated for solving; None uses the ensemble's
    ``eval_points``."""
    scale_eval_points: Bool = True
    """Scale the evaluation points by the ensemble's radius (as Nengo)."""
    learning_rule_type: RuleTypes = None
    """Online learning during a run (snngraph.learning_rules: PES, RLS, BCM, Oja, Voja):
    one rule, a list or a dict of them; ``conn.learning_rule`` is what connects into and
    probes them."""

    @model_validator(mode="after")
    def _shapes(self) -> Connection:
        if self.pre.size_out == 0:
            raise FieldError("pre", self.pre, "expected an object with output (this node "
                             "has size_out=0)")
        if self.post.size_in == 0:
            raise FieldError("post", self.post, "expected an object that takes input "
                             "(this node has size_in=0; give it size_in or output=None)")
        self._check_decoding()
        self.__dict__["transform"] = self._resolved_transform(self.size_mid)
        check_rules(self)
        return self

    @property
    def learning_rule(self) -> LearningRule | list[LearningRule] | dict[str, LearningRule] | None:
        """The learning rule(s) of ``learning_rule_type`` as endpoints: connect an error
        into one (``sg.Connection(error, conn.learning_rule)``) or probe it
        (``sg.Probe(conn.learning_rule, "delta")``). None without learning."""
        types = self.learning_rule_type
        if isinstance(types, dict):
            return {k: LearningRule(self, k) for k in types}
        if isinstance(types, list):
            return [LearningRule(self, i) for i in range(len(types))]
        return None if types is None else LearningRule(self)

    def _check_decoding(self) -> None:
        if self.eval_points is not None and not decodes(self.pre):
            raise FieldError("eval_points", self.eval_points, "expected None: eval_points "
                             "apply only to connections from an Ensemble (decoded)")
        # points in the whole ensemble's space, also from a slice of it (as Nengo)
        dims = base_object(self.pre).size_out
        if isinstance(self.eval_points, np.ndarray) and (
                self.eval_points.ndim != 2 or self.eval_points.shape[1] != dims):
            raise FieldError("eval_points", self.eval_points,
                             f"expected shape (n_points, {dims}), points of the ensemble's "
                             f"{dims} dimensions")
        self._check_function_points()
        if self.function is not None and isinstance(base_object(self.pre), Ensemble) \
                and not decodes(self.pre):
            raise FieldError("function", self.function, "expected None on a connection from "
                             "ens.neurons (functions are decoded from an Ensemble)",
                             fix="connect from the Ensemble itself: "
                                 "sg.Connection(ens, post, function=f)")

    @property
    def size_in(self) -> int:
        return self.pre.size_out

    @property
    def size_mid(self) -> int:
        """The size after the function (the pre's size when there is none)."""
        if self.function is None:
            return self.size_in
        return self._function_size()

    @property
    def size_out(self) -> int:
        return self.post.size_in

    def _check_function_points(self) -> None:
        """A function given as its values needs the points they are the values at."""
        f = self.function
        if not isinstance(f, np.ndarray):
            return
        if not decodes(self.pre):
            raise FieldError("function", f, "expected a callable: values at eval points "
                             "apply only to connections from an Ensemble (decoded)")
        points = self.eval_points
        if f.ndim != 2 or not isinstance(points, np.ndarray) or len(points) != len(f):
            raise FieldError("function", f, "expected one row of values per eval point, "
                             "shape (n_points, size); give the points as eval_points "
                             f"(got {f.shape} values for "
                             f"{len(points) if isinstance(points, np.ndarray) else 'no'} "
                             "points)")

    def _function_size(self) -> int:
        """Evaluate the function once on a zero vector to learn its output size."""
        if isinstance(self.function, np.ndarray):
            return self.function.shape[1]
        try:
            value = np.asarray(self.function(np.zeros(self.size_in)))
        except Exception as exc:
            raise FieldError("function", self.function, f"calling function(x) with x of size "
                             f"{self.size_in} raised {type(exc).__name__}: {exc}") from None
        if value.dtype.kind not in "biuf" or sum(n > 1 for n in value.shape) > 1:
            raise FieldError("function", self.function, "expected the function to return a "
                             f"number or a 1-D array, got {short_repr(value)}")
        return value.size  # a column (n, 1) is read as its n values, as Nengo does

    def _resolved_transform(self, size_mid: int) -> Float | np.ndarray | Transform:
        t, out = self.transform, self.size_out
        fn = self.function is not None
        into = (f"from {self.pre!r} " + ("through its function " if fn else "") +
                f"({size_mid} values) into {self.post!r} ({out} values)")
        if fn and size_mid != out and not isinstance(t, Transform) and np.ndim(t) < 2:
            raise FieldError("function", self.function, f"returns {size_mid} value(s) but "
                             f"post {self.post!r} takes {out}",
                             fix=f"return {out} value(s) from the function, or give a "
                                 f"transform of shape ({out}, {size_mid}) (post size, "
                                 "function output size)")
        if isinstance(t, Transform):
            t = t.resolved(size_mid)
            if (t.size_in, t.size_out) != (size_mid, out):
                raise FieldError("transform", t, f"expected a transform mapping {size_mid} -> "
                                 f"{out} values {into}; this one maps shape {t.shape_in} "
                                 f"({t.size_in}) -> {t.shape_out} ({t.size_out})")
            return t
        arr = np.asarray(t)
        if arr.ndim == 2 and arr.shape != (out, size_mid):
            raise FieldError("transform", t, f"expected shape ({out}, {size_mid}) = (post "
                             f"size, {'function output' if fn else 'pre'} size) {into}")
        if arr.ndim < 2 and size_mid != out:
            raise FieldError("transform", t, f"expected a ({out}, {size_mid}) matrix: a "
                             f"scalar or diagonal transform needs equal sizes {into}")
        if arr.ndim == 1 and arr.shape != (out,):
            raise FieldError("transform", t, f"expected a diagonal of length {out}")
        if arr.ndim > 2:
            raise FieldError("transform", t, "expected a scalar, a 1-D diagonal, a 2-D "
                             "matrix or a Transform (Dense, Sparse, Convolution, Pooling)")
        return t

    @property
    def pre_obj(self) -> Any:
        return base_object(self.pre)

    @property
    def post_obj(self) -> Any:
        return base_object(self.post)

    @classmethod
    def _name_for(cls, label: Any, args: tuple = (), kwargs: dict | None = None) -> str:
        if isinstance(label, str) or kwargs is None:
            return super()._name_for(label)
        ends = dict(zip(cls._positional, args)) | kwargs
        if "pre" in ends and "post" in ends:
            return f"Connection from {ends['pre']!r} to {ends['post']!r}"
        return cls.__name__

    def _describe(self) -> str:
        return self._name_for(self.label, (), {"pre": self.pre, "post": self.post})
