"""``sg.plot``: pictures of a network's activity, its training and its chip (extra
``plot``: matplotlib, imported when a function is first called).

Every function returns a ``matplotlib.figure.Figure`` made without pyplot, so nothing
depends on a display or on pyplot's global state; save it with ``fig.savefig(path)``
(in a notebook it shows as the cell's result).

- ``raster``: spike rasters, one panel per layer, sorted and sampled when a layer is large;
- ``rate_histograms``: each layer's per-neuron firing rates;
- ``probes``: probe outputs over ``sim.trange()``;
- ``history``: training curves from ``sim.fit``;
- ``rate_agreement``: a converted network's spiking rates against its rate network's;
- ``core_map``: a Loihi program's cores as tiles coloured by their fullest resource.

``firing_rates`` turns probed spikes into per-neuron rates for the histogram.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from snngraph.errors import ValidationError

__all__ = ["core_map", "firing_rates", "history", "probes", "rate_agreement",
           "rate_histograms", "raster"]

MAX_LINES = 20  # probe panels draw at most this many dimensions


def _figure(rows: int, cols: int = 1, width: float = 7.0, height: float = 2.2) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("sg.plot needs matplotlib: pip install 'snngraph[plot]'") from None
    fig = Figure(figsize=(width, max(height * rows, 2.0)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _panels(values: Any, what: str) -> dict[str, Any]:
    """One array, or ``{label: array}`` (a probe object as key is named by its label)."""
    if isinstance(values, Mapping):
        if not values:
            raise ValidationError(f"sg.plot.{what}: nothing to plot (an empty dict)",
                                  obj="sg.plot", field=what, value=values)
        return {_name(k): v for k, v in values.items()}
    return {"": values}


def _name(key: Any) -> str:
    return str(getattr(key, "label", None) or key)


def _example(a: Any, example: int, what: str, label: str, trailing: int = 1) -> np.ndarray:
    """One example's ``[steps, n]`` from ``[steps, n]`` or ``[examples, steps, ...]``."""
    a = np.asarray(a)
    if a.ndim == 2:
        return a
    if a.ndim < 2:
        raise ValidationError(f"sg.plot.{what}: {label or 'values'} has shape {a.shape}; "
                              "expected [steps, neurons] or [examples, steps, ...]",
                              obj="sg.plot", field=what, value=a.shape)
    if not 0 <= example < a.shape[0]:
        raise ValidationError(f"sg.plot.{what}: example={example}, but {label or 'values'} "
                              f"holds {a.shape[0]} examples", obj="sg.plot",
                              field="example", value=example)
    return a[example].reshape(a.shape[1], -1)


# ------------------------------------------------------------------ raster
def raster(spikes: Any, dt: float = 0.001, *, example: int = 0, max_neurons: int = 200,
           order: str = "first", title: str | None = None) -> Any:
    """Spike rasters: a tick at each (step, neuron) with a spike.

    ``spikes``: ``[steps, neurons]``, ``[examples, steps, ...]`` (``example`` picks one),
    or ``{label: array}`` for one panel per layer (``sim.data`` or ``predict``'s result
    indexed by probes). Nonzero values are spikes. A layer with more than
    ``max_neurons`` neurons shows that many, evenly spread over the neurons in the
    chosen ``order``: ``"first"`` (by first spike, silent ones last), ``"rate"`` (most
    active first) or ``"index"``; its panel says how many it shows.
    """
    if order not in ("first", "rate", "index"):
        raise ValidationError(f"sg.plot.raster: order must be 'first', 'rate' or 'index' "
                              f"(got {order!r})", obj="sg.plot", field="order", value=order)
    panels = _panels(spikes, "raster")
    fig, axes = _figure(len(panels), height=2.4)
    for ax, (label, values) in zip(axes[:, 0], panels.items()):
        s = _example(values, example, "raster", label) != 0
        rows = _row_order(s, order, max_neurons)
        steps, neurons = np.nonzero(s[:, rows])
        ax.scatter((steps + 1) * dt, neurons, marker="|", s=12, linewidths=0.8, color="k")
        ax.set_xlim(0, s.shape[0] * dt)
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        active = int(s.any(axis=0).sum())
        if len(rows) == s.shape[1]:
            shown = f"{s.shape[1]} neurons"
        else:
            some = f"{len(rows)} of {active}" if len(rows) < active else f"{active}"
            shown = f"{some} active neurons ({s.shape[1]} in all)"
        ax.set_title(f"{label + ': ' if label else ''}{shown}, {int(s.sum())} spikes"
                     + (f" (sorted by {order} spike)" if order == "first" else ""),
                     fontsize=9, loc="left")
        ax.set_ylabel("neuron")
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


def _row_order(s: np.ndarray, order: str, limit: int) -> np.ndarray:
    """Which neurons to draw, top to bottom: all of a small layer; of a large one, its
    active neurons (silent rows say nothing), evenly spread over the order so the
    picture keeps its shape."""
    n = s.shape[1]
    if order == "index":
        rows = np.arange(n)
    elif order == "rate":
        rows = np.argsort(-s.sum(axis=0), kind="stable")
    else:
        first = np.where(s.any(axis=0), s.argmax(axis=0), s.shape[0])
        rows = np.argsort(first, kind="stable")
    if n > limit:
        rows = rows[s[:, rows].any(axis=0)]
        if len(rows) > limit:
            rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return rows


# ------------------------------------------------------------------ rates
def firing_rates(values: Any, dt: float = 0.001, amplitude: float | None = None) -> np.ndarray:
    """Per-neuron firing rates (Hz) from probed neuron output ``[steps, ...]`` or
    ``[examples, steps, ...]`` (averaged over examples and steps): spikes counted, or,
    given the neuron type's ``amplitude``, the output divided by it (rate neurons)."""
    a = np.asarray(values)
    flat = a.reshape(-1, *a.shape[-1:]) if a.ndim < 3 else a.reshape(a.shape[0] * a.shape[1], -1)
    if amplitude is None:
        return (flat != 0).mean(axis=0) / dt
    return flat.mean(axis=0) / amplitude


def rate_histograms(rates: Any, bins: int = 30) -> Any:
    """A histogram of per-neuron firing rates (Hz) per layer: ``{label: rates}`` (e.g.
    ``firing_rates`` of each layer's probe), with each layer's mean and its fraction of
    silent neurons."""
    panels = _panels(rates, "rate_histograms")
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    fig, axes = _figure(rows, cols, width=3.2 * cols, height=2.4)
    for ax, (label, r) in zip(axes.ravel(), panels.items()):
        r = np.asarray(r, float).ravel()
        top = max(float(r.max()) if r.size else 0.0, 1e-9)
        ax.hist(r, bins=bins, range=(0, top), color="#3467c8")
        ax.axvline(r.mean(), color="#d98a1c", lw=1.5, label=f"mean {r.mean():.1f} Hz")
        ax.set_title(f"{label}: {r.size} neurons, {np.mean(r == 0):.0%} silent", fontsize=9)
        ax.set_xlabel("firing rate (Hz)")
        ax.legend(fontsize=7, frameon=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("neurons")
    return fig


# ------------------------------------------------------------------ probes
def probes(t: Any, data: Any, *, example: int = 0, title: str | None = None) -> Any:
    """Probe outputs against time: ``t`` from ``sim.trange()`` (or steps x dt), ``data``
    one probe's values or ``{label or probe: values}`` (``sim.data`` layout ``[steps,
    d]`` or ``[examples, steps, d]``; ``example`` picks one). One panel per probe, at most
    20 dimensions each."""
    t = np.asarray(t, float)
    panels = _panels(data, "probes")
    fig, axes = _figure(len(panels), height=2.2)
    for ax, (label, values) in zip(axes[:, 0], panels.items()):
        y = _example(values, example, "probes", label)
        if len(t) != len(y):
            raise ValidationError(f"sg.plot.probes: {label or 'data'} has {len(y)} steps but t "
                                  f"has {len(t)} times\n  fix: pass sim.trange() of the same "
                                  "run", obj="sg.plot", field="t", value=len(t))
        ax.plot(t, y[:, :MAX_LINES], lw=1)
        ax.set_title((label or "probe") + (f" (first {MAX_LINES} of {y.shape[1]})"
                                           if y.shape[1] > MAX_LINES else ""),
                     fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------ training
def history(result: Any) -> Any:
    """Training curves from ``sim.fit``'s History (or its ``.history`` dict): losses in
    one panel, each metric in another, training and validation (``val_``) together."""
    logs = getattr(result, "history", result)
    if not isinstance(logs, Mapping) or not logs:
        raise ValidationError("sg.plot.history: expected the History sim.fit returns (or "
                              f"its .history dict), got {type(result).__name__}",
                              obj="sg.plot", field="history", value=type(result).__name__)
    curves = {k: v for k, v in logs.items() if k != "epoch_seconds"}
    groups: dict[str, list[str]] = {}
    for key in curves:
        base = key.removeprefix("val_")
        kind = "loss" if base.endswith("loss") else base.split("_")[-1]
        groups.setdefault(kind, []).append(key)
    fig, axes = _figure(1, len(groups), width=3.6 * len(groups), height=3.0)
    for ax, (kind, keys) in zip(axes[0], groups.items()):
        for key in keys:
            y = np.asarray(curves[key], float)
            ax.plot(np.arange(1, len(y) + 1), y, marker="o", ms=3,
                    ls="--" if key.startswith("val_") else "-", label=key)
        ax.set_title(kind, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, frameon=False)
    return fig


# ------------------------------------------------------------------ conversion
def rate_agreement(rate: Any, spiking: Any = None, *, max_points: int = 3000) -> Any:
    """Per layer, each neuron's rate in the rate network against its rate in the spiking
    network (Hz), on the same inputs; points on the diagonal agree. ``rate`` and
    ``spiking``: ``{layer: per-neuron rates}`` with the same layers, or one ``Measured``
    from ``snngraph.view.measure_rates`` (which runs both)."""
    if spiking is None and hasattr(rate, "spiking"):  # a Measured: layers by their objects
        names = rate.objects
        rate, spiking = ({names.get(k, k): v for k, v in rate.rate.items()},
                         {names.get(k, k): v for k, v in rate.spiking.items()})
    rate, spiking = _panels(rate, "rate_agreement"), _panels(spiking, "rate_agreement")
    layers = [k for k in spiking if k in rate]
    if not layers:
        raise ValidationError("sg.plot.rate_agreement: the rate and spiking results share no "
                              f"layer (rate: {', '.join(rate)}; spiking: {', '.join(spiking)})",
                              obj="sg.plot", field="rate", value=list(rate))
    cols = min(len(layers), 4)
    rows = -(-len(layers) // cols)
    fig, axes = _figure(rows, cols, width=3.0 * cols, height=3.0)
    rng = np.random.default_rng(0)
    for ax, layer in zip(axes.ravel(), layers):
        x, y = np.asarray(rate[layer], float).ravel(), np.asarray(spiking[layer], float).ravel()
        keep = rng.choice(x.size, max_points, replace=False) if x.size > max_points else \
            slice(None)
        ax.scatter(x[keep], y[keep], s=4, alpha=0.4, color="#3467c8", linewidths=0)
        top = max(float(x.max(initial=0)), float(y.max(initial=0)), 1e-9)
        ax.plot([0, top], [0, top], color="#888", lw=1, ls="--")
        r = np.corrcoef(x, y)[0, 1] if x.size > 1 and x.std() > 0 and y.std() > 0 else np.nan
        ax.set_title(f"{layer}\nmean {x.mean():.1f} vs {y.mean():.1f} Hz, r = {r:.3f}",
                     fontsize=8)
        ax.set_xlabel("rate network (Hz)")
    for ax in axes.ravel()[len(layers):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("spiking network (Hz)")
    return fig


# ------------------------------------------------------------------ Loihi
RESOURCE_SHORT = {"compartments": "cx", "in_axons": "in", "out_axons": "out",
                  "synapse_bits": "syn"}


def core_map(program: Any, *, columns: int = 12) -> Any:
    """A Loihi program's cores (``sg.compile(net, target="loihi")`` or a Simulator's
    ``program``) as tiles: the colour is the core's fullest resource against its limit,
    the label its number and that resource; tiles of one layer share an outline colour."""
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    report = program.resources() if hasattr(program, "resources") else program
    rows_of = report.rows
    if not rows_of:
        raise ValidationError("sg.plot.core_map: the program has no chip cores",
                              obj="sg.plot", field="program", value="no cores")
    n_rows = -(-len(rows_of) // columns)
    fig, axes = _figure(1, 1, width=min(columns, len(rows_of)) * 0.75 + 2.2,
                        height=n_rows * 0.75 + 1.0)
    ax = axes[0, 0]
    heat = colormaps["RdYlGn_r"]
    layers = list(dict.fromkeys(r["object"] for r in rows_of))
    outline = colormaps["tab10"]
    for i, r in enumerate(rows_of):
        fractions = r["usage"].fractions()
        fullest = max(fractions, key=fractions.get)
        f = fractions[fullest]
        x, y = i % columns, -(i // columns)
        ax.add_patch(Rectangle((x + 0.05, y + 0.05), 0.9, 0.9, facecolor=heat(min(f, 1.0)),
                               edgecolor=outline(layers.index(r["object"]) % 10), lw=2.5))
        ax.text(x + 0.5, y + 0.62, str(r["core"]), ha="center", va="center", fontsize=8)
        ax.text(x + 0.5, y + 0.3, f"{RESOURCE_SHORT[fullest]} {f:.0%}", ha="center",
                va="center", fontsize=6)
    ax.set_xlim(0, min(columns, len(rows_of)))
    ax.set_ylim(-n_rows + 1, 1)
    ax.set_aspect("equal")
    ax.axis("off")
    handles = [Rectangle((0, 0), 1, 1, facecolor="white", edgecolor=outline(k % 10), lw=2.5)
               for k in range(len(layers))]
    ax.legend(handles, layers, fontsize=7, frameon=False, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig.colorbar(ScalarMappable(Normalize(0, 1), heat), ax=ax, shrink=0.8,
                 label="fullest resource / limit")
    ax.set_title(f"{report.cores} cores on {report.chips} chip(s)", fontsize=9)
    return fig
