"""One naming for weights and biases, two spellings accepted.

Transforms (``Dense``, ``Convolution``) store Nengo's names, ``init`` and ``bias``;
the layer spec ``Conv2D`` stores Keras's, ``kernel_initializer``, ``use_bias`` and
``bias_initializer``. Each also takes the other spelling, translated when the object is
made (documents hold only the stored names):

=====================================  =============================================
Keras spelling                         Nengo spelling
=====================================  =============================================
``Dense(units=10)``                    ``Dense(10)`` (``shape``)
``Conv2D(filters=8)``                  ``Convolution(n_filters=8)``
``kernel_initializer=d``               ``init=d``
``use_bias=False``                     ``bias=False`` (no bias)
``use_bias=True``                      ``bias=True`` (zeros, trained)
``bias_initializer=d``                 ``bias=d`` (drawn from ``d``, trained)
=====================================  =============================================

Keras's initializer names work where Keras takes them: ``kernel_initializer=
"glorot_uniform"`` (``sg.dists.Glorot()``, the default) and ``bias_initializer="zeros"``
(a bias starting at zero). Giving both spellings of one thing is an error naming both.
"""

from __future__ import annotations

import difflib
from typing import Any

from snngraph.errors import field_error

KERAS = ("kernel_initializer", "use_bias", "bias_initializer")
NENGO = ("init", "bias")


def _conflict(name: str, a: str, b: str, value: Any, site: Any, fix: str) -> Exception:
    return field_error(name, a, value, f"given together with {b}, which names the same "
                       "thing; give one of them", site, fix)


def _initializer_names(name: str, kwargs: dict) -> dict:
    """Keras's initializer strings as what they mean here (others refused by name)."""
    known = {"kernel_initializer": ("glorot_uniform",), "bias_initializer": ("zeros",)}
    if not any(isinstance(kwargs.get(k), str) for k in known):
        return kwargs
    from snngraph.base import user_site
    from snngraph.dists import Glorot

    out = dict(kwargs)
    for field, names in known.items():
        value = out.get(field)
        if not isinstance(value, str):
            continue
        if value not in names:
            raise field_error(name, field, value, f"expected one of {', '.join(map(repr, names))} "
                              "or an sg.dists Distribution", user_site(),
                              "sg.dists.Uniform(-0.05, 0.05), sg.dists.Gaussian(0, 0.05) or "
                              "sg.dists.Glorot(distribution='normal')")
        if field == "kernel_initializer":
            out[field] = Glorot()
        else:  # zeros: the bias every layer starts with
            del out[field]
            out.setdefault("use_bias", True)
    return out


def _unknown(cls: type, name: str, kwargs: dict, aliases: tuple, site: Any) -> None:
    """Refuse an unknown argument here, so the did-you-mean also knows the aliases."""
    fields = [f for f in cls.model_fields if not f.startswith("_")]
    for key, value in kwargs.items():
        if key.startswith("_") or key in fields or key in aliases:
            continue
        close = difflib.get_close_matches(key, [*fields, *aliases], n=1)
        raise field_error(name, key, value, f"unknown argument; expected one of: "
                          f"{', '.join(fields)} (or {', '.join(aliases)})", site,
                          f"did you mean {close[0]!r}?" if close else "")


def keras_to_transform(cls: type, args: tuple, kwargs: dict, count: str) -> dict:
    """``Dense``/``Convolution`` arguments with Keras's names translated to ``init`` and
    ``bias`` (and ``units``/``filters`` to the first positional field ``count``)."""
    from snngraph.base import user_site

    name = cls.__name__
    kwargs = _initializer_names(name, kwargs)
    keras_count = "units" if count == "shape" else "filters"
    aliases = (keras_count, *KERAS)
    if not any(k in kwargs for k in aliases):
        return kwargs
    site = user_site()
    _unknown(cls, name, kwargs, aliases, site)
    out = dict(kwargs)
    if keras_count in out:
        value = out.pop(keras_count)
        if args or count in out:
            raise _conflict(name, keras_count, f"{count} (the first positional argument)",
                            value, site, f"sg.{name}({keras_count}={value!r}) or "
                            f"sg.{name}({value!r})")
        out[count] = value
    if "kernel_initializer" in out:
        value = out.pop("kernel_initializer")
        if "init" in out or len(args) > 1 and count == "shape":
            raise _conflict(name, "kernel_initializer", "init", value, site,
                            "keep kernel_initializer= (Keras) or init= (Nengo), not both")
        out["init"] = value
    if "use_bias" in out or "bias_initializer" in out:
        use = out.pop("use_bias", None)
        dist = out.pop("bias_initializer", None)
        if "bias" in out:
            which = "use_bias" if use is not None else "bias_initializer"
            raise _conflict(name, which, "bias", use if use is not None else dist, site,
                            "keep use_bias=/bias_initializer= (Keras) or bias= (Nengo)")
        if use is False and dist is not None:
            raise field_error(name, "use_bias", False, "False (no bias) contradicts "
                              f"bias_initializer={dist!r}", site,
                              "drop bias_initializer, or set use_bias=True")
        if use is not None and not isinstance(use, bool):
            raise field_error(name, "use_bias", use, "expected True or False", site)
        out["bias"] = dist if dist is not None else (use if use is not None else None)
    return out


def transform_to_keras(cls: type, kwargs: dict) -> dict:
    """``Conv2D`` arguments with Nengo's ``init``/``bias``/``n_filters`` translated to
    ``kernel_initializer``, ``use_bias``/``bias_initializer`` and ``filters``."""
    from snngraph.base import user_site

    aliases = ("n_filters", *NENGO)
    name = cls.__name__
    kwargs = _initializer_names(name, kwargs)
    if not any(k in kwargs for k in aliases):
        return kwargs
    site = user_site()
    _unknown(cls, name, kwargs, aliases, site)
    out = dict(kwargs)
    _rename(out, name, "n_filters", "filters", site, "keep filters=")
    _rename(out, name, "init", "kernel_initializer", site,
            "keep kernel_initializer= (Keras) or init= (Nengo), not both")
    if "bias" in out:
        _bias_to_keras(out, name, site)
    return out


def _rename(out: dict, name: str, alias: str, field: str, site: Any, fix: str) -> None:
    """``out[alias]`` moved to ``out[field]``; both given is a conflict."""
    if alias not in out:
        return
    value = out.pop(alias)
    if field in out:
        first, second = (alias, field) if alias == "n_filters" else (field, alias)
        raise _conflict(name, first, second, value, site, fix)
    out[field] = value


def _bias_to_keras(out: dict, name: str, site: Any) -> None:
    """Nengo's ``bias=`` (None, a bool or a Distribution) as ``use_bias`` and
    ``bias_initializer``."""
    value = out.pop("bias")
    for other in ("use_bias", "bias_initializer"):
        if other in out:
            raise _conflict(name, "bias", other, value, site,
                            "keep use_bias=/bias_initializer= (Keras) or bias= (Nengo)")
    if value is None or value is False:
        out["use_bias"] = False
    elif value is True:
        out["use_bias"] = True
    else:  # a Distribution (anything else is refused by the field's own check)
        out["use_bias"], out["bias_initializer"] = True, value
