"""Network configuration (Nengo's ``net.config``): per-class defaults and per-object
backend settings.

``net.config[sg.Ensemble].max_rates = sg.dists.Choice([100])`` sets the default of an
argument for objects of that class created inside the network (innermost network
first). ``net.config[ens].on_chip = False`` sets a backend setting of one object.
Every value is validated when it is set, against the field it will fill.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic
from pydantic import TypeAdapter

from snngraph.base import user_site
from snngraph.blockshape import BlockShape
from snngraph.decode_neurons import DecodeNeurons
from snngraph.errors import ValidationError, field_error, where
from snngraph.schemas.base import Bool

_UNSET = object()


class BackendParam:
    """A setting that backends read per object (not an argument of the object)."""

    def __init__(self, annotation: Any, default: Any, doc: str):
        self.adapter = TypeAdapter(annotation)
        self.default, self.doc = default, doc


BACKEND_PARAMS: dict[str, dict[str, BackendParam]] = {
    "Ensemble": {
        "on_chip": BackendParam(Bool, True, "run on the Loihi chip (False: on the host)"),
        "block_shape": BackendParam(BlockShape | None, None, "how to split it into cores"),
        "trainable": BackendParam(
            Bool | None, None, "let training change its bias and encoders (None: the "
            "default, which trains the bias of Nengo's neuron types but not of types that "
            "take their input current directly, Leaky, CubaLIF and LI; see snngraph.params)"),
    },
    "Connection": {
        "trainable": BackendParam(Bool, True, "let training change its weights"),
        "loihi_decode": BackendParam(
            Literal["auto", "weights", "decode_neurons"] | DecodeNeurons | None, None,
            "Loihi target, a decoded connection between chip ensembles: full weights, "
            "decode neurons (a DecodeNeurons gives their parameters) or 'auto' (the one "
            "using fewer cores); None: compile(loihi_decode=...)"),
    },
    "Node": {},
    "Probe": {},
    "Network": {},
}


class Config:
    """The configuration of one network."""

    def __init__(self, network: Any):
        self.network = network
        self.defaults: dict[type, dict[str, Any]] = {}
        self.params: dict[Any, dict[str, Any]] = {}

    def __getitem__(self, key: Any) -> ClassParams | InstanceParams:
        if isinstance(key, type):
            if key.__name__ not in BACKEND_PARAMS:
                raise ValidationError(f"Config: cannot configure {key.__name__}; expected one "
                                      f"of {', '.join(BACKEND_PARAMS)}", obj="Config",
                                      value=key)
            return ClassParams(self, key)
        if type(key).__name__ not in BACKEND_PARAMS:
            raise ValidationError(f"Config: cannot configure {key!r}; expected an Ensemble, "
                                  "Node, Connection, Probe or Network (or one of those "
                                  "classes)", obj="Config", value=key)
        return InstanceParams(self, key)

    def lookup(self, cls: type, field: str) -> tuple[bool, Any]:
        """The default this config sets for ``cls.field`` (searching base classes)."""
        for klass in cls.__mro__:
            if field in self.defaults.get(klass, {}):
                return True, self.defaults[klass][field]
        return False, None

    def param(self, obj: Any, name: str) -> Any:
        """A backend setting of ``obj``: set on it, else its class default, else global."""
        if name in self.params.get(obj, {}):
            return self.params[obj][name]
        found, value = self.lookup(type(obj), name)
        return value if found else BACKEND_PARAMS[type(obj).__name__][name].default


def _validate(adapter: TypeAdapter, owner: str, name: str, value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        msg = msg.replace("Input should be ", "expected ")
        raise field_error(owner, name, value, msg, user_site()) from None


class ClassParams:
    """``net.config[Class]``: defaults for arguments and backend settings of a class."""

    def __init__(self, config: Config, cls: type):
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_cls", cls)

    def _adapter(self, name: str, value: Any = None) -> TypeAdapter:
        cls = self._cls
        backend = BACKEND_PARAMS[cls.__name__]
        if name in backend:
            return backend[name].adapter
        field = cls.model_fields.get(name)
        if field is None or name in ("label", "seed") or name in getattr(cls, "_positional_only",
                                                                        ()):
            known = [f for f in cls.model_fields if f not in ("label", "seed")] + list(backend)
            raise field_error(f"Config[{cls.__name__}]", name, value,
                              f"not a configurable setting; expected one of: {', '.join(known)}",
                              user_site())
        annotation = field.annotation
        if field.metadata:
            annotation = Annotated[(annotation, *field.metadata)]
        return TypeAdapter(annotation, config={"arbitrary_types_allowed": True})

    def __setattr__(self, name: str, value: Any) -> None:
        value = _validate(self._adapter(name, value), f"Config[{self._cls.__name__}]", name,
                          value)
        self._config.defaults.setdefault(self._cls, {})[name] = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._adapter(name)  # raises for unknown names
        found, value = self._config.lookup(self._cls, name)
        if found:
            return value
        backend = BACKEND_PARAMS[self._cls.__name__]
        if name in backend:
            return backend[name].default
        return self._cls.model_fields[name].get_default(call_default_factory=True)

    def __delattr__(self, name: str) -> None:
        self._config.defaults.get(self._cls, {}).pop(name, None)


class InstanceParams:
    """``net.config[obj]``: backend settings of one object."""

    def __init__(self, config: Config, obj: Any):
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_obj", obj)

    def _param(self, name: str, value: Any = None) -> BackendParam:
        backend = BACKEND_PARAMS[type(self._obj).__name__]
        if name not in backend:
            known = ", ".join(backend) or "none"
            fix = ""
            if name == "trainable":  # only ensembles and connections hold trained arrays
                fix = (f"a {type(self._obj).__name__} has no parameters to train; set it on "
                       "the Connection that feeds it (a Layer's weights): "
                       "net.config[conn].trainable = ...")
            raise field_error(f"Config[{self._obj._describe()}]", name, value,
                              f"not a backend setting of {type(self._obj).__name__}; expected "
                              f"one of: {known}", user_site(), fix)
        return backend[name]

    def __setattr__(self, name: str, value: Any) -> None:
        owner = f"Config[{self._obj._describe()}]"
        value = _validate(self._param(name, value).adapter, owner, name, value)
        if isinstance(value, BlockShape) and value.n_neurons != self._obj.n_neurons:
            raise ValidationError(
                f"{owner}.block_shape: expected ensemble_shape with {self._obj.n_neurons} "
                f"neurons in all (got {value.ensemble_shape}, {value.n_neurons} neurons)"
                f"{where(user_site())}", obj=owner, field="block_shape", value=value)
        self._config.params.setdefault(self._obj, {})[name] = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._param(name)
        return self._config.param(self._obj, name)

    def __delattr__(self, name: str) -> None:
        self._config.params.get(self._obj, {}).pop(name, None)
