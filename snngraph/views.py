"""Views of objects used as connection or probe endpoints: ``ens.neurons`` and slices
such as ``ens[0]``, ``node[2:5]`` or ``ens.neurons[:10]`` (Nengo's ``ObjView``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from snngraph.errors import field_error


class Neurons:
    """The neurons of an ensemble, addressed directly (deep-learning style).

    Made by ``ens.neurons``, not by hand.

    Parameters
    ----------
    ensemble : Ensemble
        The ensemble whose neurons these are.
    """

    def __init__(self, ensemble: Any):
        self.ensemble = ensemble

    @property
    def probeable(self) -> tuple[str, ...]:
        """Output, input, and the neuron type's state variables (e.g. voltage); a spiking
        type's output is also ``spikes`` (Nengo's older name)."""
        ntype = self.ensemble.neuron_type
        return ("output", "input", *(("spikes",) if ntype.spiking else ()), *ntype.state)

    @property
    def size_in(self) -> int:
        return self.ensemble.n_neurons

    size_out = size_in

    @property
    def label(self) -> str | None:
        return None if self.ensemble.label is None else f"{self.ensemble.label}.neurons"

    def __getitem__(self, key: Any) -> ObjView:
        return ObjView(self, key)

    def __len__(self) -> int:
        return self.size_out

    def __repr__(self) -> str:
        return f"<Neurons of {self.ensemble!r}>"


class ObjView:
    """A slice of an object's inputs/outputs: ``obj[key]`` with an int, slice or list.

    Made by indexing (``ens[0]``, ``ens.neurons[:10]``), not by hand.

    Parameters
    ----------
    obj : Ensemble | Node | Neurons
        The object sliced.
    key : int | slice | list
        Which of its values.
    """

    def __init__(self, obj: Any, key: Any):
        self.obj = obj
        size = obj.size_out if obj.size_out else obj.size_in
        self.key = key
        self.indices = _indices(obj, key, size)

    @property
    def size_in(self) -> int:
        return len(self.indices) if self.obj.size_in else 0

    @property
    def size_out(self) -> int:
        return len(self.indices) if self.obj.size_out else 0

    @property
    def probeable(self) -> tuple[str, ...]:
        return self.obj.probeable

    @property
    def label(self) -> str | None:
        return None if self.obj.label is None else f"{self.obj.label}[{self._key_text()}]"

    def _key_text(self) -> str:
        if isinstance(self.key, slice):
            k = self.key
            parts = ["" if v is None else str(v) for v in (k.start, k.stop)]
            return ":".join(parts) + ("" if k.step is None else f":{k.step}")
        return str(self.key)

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"<{self.obj!r}[{self._key_text()}]>"


def _indices(obj: Any, key: Any, size: int) -> np.ndarray:
    """The positions a key selects, with a clear error for keys that select nothing valid."""
    name = repr(obj)[1:-1]
    site = getattr(getattr(obj, "ensemble", obj), "site", None)
    if isinstance(key, bool | np.bool_):
        raise field_error(name, "[index]", key, "expected an int, slice or list of ints", site)
    if isinstance(key, int | np.integer):
        if not -size <= key < size:
            raise field_error(name, "[index]", key, f"expected an index in [-{size}, {size})",
                              site)
        return np.array([key % size])
    if isinstance(key, slice):
        idx = np.arange(size)[key]
    else:
        try:
            arr = np.asarray(key)
        except ValueError:
            arr = np.asarray([], dtype=object)
        if arr.dtype == bool and arr.shape == (size,):
            arr = np.flatnonzero(arr)  # a mask selects where it is True, as in numpy
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise field_error(name, "[index]", key, "expected an int, slice, list of ints or a "
                              f"boolean mask of length {size}", site)
        if arr.size and (arr.min() < -size or arr.max() >= size):
            raise field_error(name, "[index]", key, f"expected indices in [-{size}, {size})",
                              site)
        idx = arr % size
    if idx.size == 0:
        raise field_error(name, "[index]", key, f"expected a selection of at least one of "
                          f"its {size} elements", site)
    return idx


class LearningRule:
    """A learning rule of a connection, as a connection's ``post`` (its error input) and
    as a Probe target (``delta`` and the rule's other ``probeable`` values).

    Made by ``conn.learning_rule`` (one of these, or a list or dict of them as the
    connection's ``learning_rule_type`` is), not by hand.

    Parameters
    ----------
    connection : Connection
        The connection whose weights (or post encoders) the rule changes.
    key : int | str | None
        Which of the connection's rules: None for its only one, else its index in the
        list or its key in the dict of ``learning_rule_type``.
    """

    def __init__(self, connection: Any, key: Any = None):
        self.connection, self.key = connection, key

    @property
    def learning_rule_type(self) -> Any:
        types = self.connection.learning_rule_type
        return types if self.key is None else types[self.key]

    @property
    def modifies(self) -> str:
        return self.learning_rule_type.modifies

    @property
    def probeable(self) -> tuple[str, ...]:
        return self.learning_rule_type.probeable

    @property
    def size_in(self) -> int:
        """The size of the error input: the post ensemble's dimensions for error-driven
        rules (``post_state``), 1 for Voja's scalar, 0 for rules without one."""
        kind = self.learning_rule_type.error
        if kind == "scalar":
            return 1
        if kind is None:
            return 0
        post = self.connection.post
        while isinstance(post, ObjView):
            post = post.obj
        return post.ensemble.dimensions if isinstance(post, Neurons) \
            else self.connection.size_out

    size_out = 0  # nothing connects from a learning rule

    def __getitem__(self, key: Any) -> ObjView:
        """Part of the error input (``sg.Connection(e, conn.learning_rule[0])``)."""
        return ObjView(self, key)

    @property
    def label(self) -> str | None:
        conn = self.connection.label
        if conn is None:
            return None
        return f"{conn}.learning_rule" + ("" if self.key is None else f"[{self.key!r}]")

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, LearningRule) and other.connection is self.connection \
            and other.key == self.key

    def __hash__(self) -> int:
        return hash((id(self.connection), self.key))

    def __repr__(self) -> str:
        key = "" if self.key is None else f"[{self.key!r}]"
        return (f"<LearningRule{key} {type(self.learning_rule_type).__name__} of "
                f"{self.connection._describe()}>")
