"""``Simulator``: the one interface every runtime plugs into.

Data follow NengoDL's layout: ``{node: array}`` (or a bare array for the only input) of
``[examples, steps, size]``, or ``[examples, size]`` held constant. ``sim.data[probe]``
is ``[batch, steps, *shape]``. ``predict`` streams a dataset of any size through the
network in minibatches (a last partial minibatch included) and resets the state between
minibatches, so example ``i``'s result does not depend on which minibatch it was in.

A backend implements ``allocate(batch)``, ``reset(seed)``, and
``run(n_steps, feeds, t0, example0, progress) -> {probe op: [batch, n, ...]}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from snngraph.runtimes.feeds import Feeds
from snngraph.runtimes.probes import ProbeData, ProbeIndex, ProbeResults
from snngraph.runtimes.training import Training

from snngraph.errors import (
    SnnError,
    ValidationError,
    closest,
    keywords_checked,
    short_repr,
    unknown_keyword,
)

BACKENDS: dict[str, Callable[..., Any]] = {}


def register_backend(name: str, factory: Callable[..., Any]) -> None:
    BACKENDS[name] = factory


def _backend(name: str) -> Callable[..., Any]:
    if name == "numba" and name not in BACKENDS:
        from snngraph.runtimes.numba_cpu import NumbaBackend

        register_backend("numba", NumbaBackend)
    if name == "rate" and name not in BACKENDS:
        from snngraph.runtimes.rate.backend import RateBackend

        register_backend("rate", RateBackend)
    if name == "loihi" and name not in BACKENDS:
        from snngraph.runtimes.loihi import LoihiBackend

        register_backend("loihi", LoihiBackend)
    if name not in BACKENDS:
        known = sorted({*BACKENDS, "numba", "rate", "loihi"})
        near = closest(name, known)
        raise ValidationError(f"Simulator.backend: unknown backend {name!r}; available: "
                              f"{', '.join(known)}"
                              + (f"\n  fix: did you mean backend={near!r}?" if near else ""),
                              obj="Simulator", field="backend", value=name)
    return BACKENDS[name]


class SimulatorClosed(SnnError, RuntimeError):
    """The simulator was used after ``close()``."""


class Simulator(Training, Feeds):
    """Runs a network (compiled for ``target="cpu"``, or ``"rate"`` with
    ``backend="rate"``) or a compiled Program; trains it (``fit``, see runtimes/training/).

    Parameters
    ----------
    network : Network | Program
        The network to compile and run, or a Program compiled (or loaded) before.
    backend : str, default 'numba'
        ``'numba'`` (the spiking network on the CPU), ``'rate'`` (the rate network) or
        ``'loihi'`` (the host on the CPU, the chip part in the integer emulator).
    dt : float, default 0.001
        Time step in seconds.
    minibatch_size : int | None, default 1
        Examples run side by side; ``predict``, ``evaluate`` and ``fit`` go through the
        data in minibatches of this size. ``None``: one example, and ``sim.data[p]`` is
        ``[steps, *shape]`` without the batch axis (Nengo's layout, for
        ``plt.plot(sim.trange(), sim.data[p])``).
    seed : int | None, default None
        Seed of the run's random draws (None: the network's seed, or 0).
    progress_bar : bool, default True
        Show progress for long runs.
    fuse : bool | str, default 'auto'
        Compile the whole time loop into one function (True), never (False), or when a
        run is long enough to repay the compile (``'auto'``); the results are identical.
    dtype : str, default 'float32'
        The precision the run computes in: ``'float32'`` (fast: like NengoDL, snngraph
        computes in float32 by default) or ``'float64'`` (as Nengo's reference
        simulator; ``backend='numba'`` only). Every value, state, parameter, input and
        probe buffer has it, and ``sim.data`` and ``predict`` return it; None: float32.
        Training (``fit``) computes in float32: it needs a float32 Simulator.
    **compile_options
        Passed to ``sg.compile``: ``swap``, ``scale_firing_rates``, ``synapse``,
        ``print_after`` and the target's options.
    """

    def __init__(self, network: Any, backend: str = "numba", dt: float | None = None,
                 minibatch_size: int | None = 1, seed: int | None = None, progress_bar: bool = True,
                 fuse: bool | str = "auto", dtype: Any = "float32", **compile_options: Any):
        """``fuse``: compile the whole time loop into one function (True), never (False),
        or for runs big enough to repay the compile ("auto"); see
        runtimes/numba_cpu/fused.py. Both give identical results. ``dt``: the time step
        in seconds (default 0.001); a Program runs at the dt it was compiled with.
        ``dtype``: 'float32' (default) or 'float64' (the numba backend)."""
        from snngraph.compiler.program import Program

        self.batch_axis = minibatch_size is not None
        minibatch_size = 1 if minibatch_size is None else minibatch_size
        _check_int("minibatch_size", minibatch_size, 1)
        if seed is not None:
            _check_int("seed", seed, 0)
        _check_dt(dt, network.ir.dt if isinstance(network, Program) else None)
        _check_compile_options(compile_options, backend)
        self.dtype = _check_dtype(dtype, backend)
        self.backend_name = backend
        self.compile_options = dict(compile_options, dt=0.001 if dt is None else dt)
        if isinstance(network, Program):
            self.program, self.network = network, None
        else:
            import snngraph as sg

            target = {"rate": "rate", "loihi": "loihi"}.get(backend, "cpu")
            self.program = sg.compile(network, target=target, **self.compile_options)
            self.network = network
        self.dt = self.program.ir.dt
        _check_memory(self.program, minibatch_size, self.dtype.itemsize)
        self.minibatch_size, self.progress_bar = minibatch_size, progress_bar
        self.seed = seed if seed is not None else (self.program.ir.seed or 0)
        if fuse not in (True, False, "auto"):
            raise ValidationError(f"Simulator.fuse: expected True, False or 'auto' (got "
                                  f"{short_repr(fuse)})", obj="Simulator", field="fuse",
                                  value=fuse)
        self.fuse = fuse
        self._backend = self._new_backend()
        self._probes = {op.name: op for op in self.program.ir.ops() if op.op == "probe"}
        self._closed = False
        self._init_training()
        self.reset(seed)

    def _new_backend(self) -> Any:
        """The backend for ``self.program``; ``dtype`` goes to a backend that computes in
        more than one precision (the others compute in float32, see ``_check_dtype``)."""
        factory = _backend(self.backend_name)
        extra = {"dtype": self.dtype} if hasattr(factory, "dtypes") else {}
        return factory(self.program, self.seed, fuse=self.fuse, **extra)

    # -- context manager and lifetime
    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._backend = None

    def _check_open(self) -> None:
        if self._closed:
            raise SimulatorClosed("Simulator: used after close(); create a new one")

    def reset(self, seed: int | None = None) -> None:
        """Back to time 0: states zeroed, recorded data cleared."""
        self._check_open()
        if seed is not None:
            _check_int("seed", seed, 0)
            self.seed = seed
        self._backend.allocate(self.minibatch_size)
        self._backend.reset(self.seed)
        self.n_steps = 0
        self._data: dict[str, list[np.ndarray]] = {name: [] for name in self._probes}

    # -- running
    def run_steps(self, n_steps: int, data: Any = None) -> None:
        """Advance ``n_steps`` with ``data`` fed to input nodes (NengoDL's layout)."""
        self._check_open()
        _check_int("n_steps", n_steps, 1)
        feeds, _ = self._feeds(data, n_steps, self.minibatch_size, exact=True)
        bar = self._progress(n_steps, "step", "run_steps", 1, f"batch of {self.minibatch_size}")
        out = self._backend.run(n_steps, feeds, self.n_steps, 0, bar)
        if bar:
            bar.close()
        for name, values in out.items():
            self._data[name].append(values)
        self.n_steps += n_steps

    def step(self) -> None:
        self.run_steps(1)

    def set_fuse(self, fuse: bool | str) -> None:
        """Change ``fuse`` between runs (the results do not depend on it)."""
        if fuse not in (True, False, "auto"):
            raise ValidationError(f"Simulator.fuse: expected True, False or 'auto' (got "
                                  f"{short_repr(fuse)})", obj="Simulator", field="fuse",
                                  value=fuse)
        self.fuse = self._backend.fuse = fuse

    def fused_cached(self) -> bool:
        """The numba backend has run this network's fused loop before (in any process),
        so fusing a short run costs no compiling (the Nengo backend's ``fuse='auto'``)."""
        return bool(getattr(self._backend, "fused_cached", lambda: False)())

    def take_data(self) -> dict[str, np.ndarray]:
        """What the probes recorded since the last ``take_data`` (or reset), by probe op
        name, ``[batch, steps, *shape]``; it is then forgotten (``sim.data`` no longer
        holds it). For front ends that keep their own records (the Nengo backend)."""
        self._check_open()
        out = {name: np.concatenate(v, axis=1) if v else
               np.zeros((self.minibatch_size, 0, *self._probes[name].shape), self.dtype)
               for name, v in self._data.items()}
        self._data = {name: [] for name in self._probes}
        return out

    def signals(self) -> dict[str, np.ndarray]:
        """The backend's live values, ``[batch, ...]`` in ``dtype``, by op name, and each
        neuron op's state variables as ``name.variable``: for front ends (the Nengo
        backend's ``sim.signals``). The numba backend only."""
        self._check_open()
        live = getattr(self._backend, "signals", None)
        if live is None:
            raise ValidationError(f"Simulator.signals: backend={self.backend_name!r} does not "
                                  "expose its values\n  fix: use backend='numba'",
                                  obj="Simulator", field="backend", value=self.backend_name)
        return live()

    def run(self, seconds: float, data: Any = None) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float | np.number) \
                or not np.isfinite(seconds):
            raise ValidationError(f"Simulator.run.seconds: expected a number of seconds "
                                  f"(got {short_repr(seconds)})\n  fix: e.g. sim.run(0.5), "
                                  "or sim.run_steps(n) for a number of steps",
                                  obj="Simulator", field="seconds", value=seconds)
        steps = int(round(seconds / self.dt))
        if steps < 1:
            raise ValidationError(f"Simulator.run: {seconds!r} s is less than one step "
                                  f"(dt={self.dt})", obj="Simulator", field="seconds",
                                  value=seconds)
        self.run_steps(steps, data)

    def trange(self) -> np.ndarray:
        """The times of the recorded steps (end of each step, as Nengo)."""
        return (np.arange(self.n_steps) + 1) * self.dt

    @property
    def data(self) -> ProbeData:
        """What the probes recorded since the last reset, ``[batch, steps, *shape]``
        (``[steps, *shape]`` with ``minibatch_size=None``); readable after ``close()``."""
        out = {name: (np.concatenate(v, axis=1) if v else
                      np.zeros((self.minibatch_size, 0, *self._probes[name].shape), self.dtype))
               for name, v in self._data.items()}
        return ProbeData(self, out if self.batch_axis else {k: v[0] for k, v in out.items()})

    def predict(self, x: Any, n_steps: int | None = None, batch_size: int | None = None,
                verbose: int | str = "auto", client: Any = None) -> dict[Any, np.ndarray]:
        """Run every example of ``x`` for ``n_steps`` (from a fresh state each minibatch)
        and return ``{probe: [examples, steps, *shape]}``.

        ``batch_size``: examples run at once in this call (default ``minibatch_size``;
        results do not depend on it). ``verbose``: 0 silent, 1 a progress bar (start and
        end lines when the output is not a terminal), 2 the lines only. ``client``: a
        ``dask.distributed.Client``, a scheduler address (``"tcp://host:8786"``) or
        ``"local"`` (a cluster of this machine's cores, shut down after): the examples
        are split into ranges run on the cluster's workers, with the same results
        (docs/distributed.md); ``x`` may then be a ``dask.array``."""
        return self._predict(x, n_steps, batch_size, verbose, "predict", client)

    def _predict(self, x: Any, n_steps: int | None, batch_size: int | None,
                 verbose: int | str, what: str, client: Any = None) -> dict[Any, np.ndarray]:
        from snngraph.runtimes.progress import check_verbose, plural
        from snngraph.runtimes.training.checks import check_count

        self._check_open()
        if n_steps is not None:
            _check_int("n_steps", n_steps, 1)  # 0 would run the data's own steps
        verbose = check_verbose(verbose, f"Simulator.{what}")
        size = self.minibatch_size if batch_size is None else batch_size
        check_count("batch_size", size, what,
                     f"batch_size=32, or leave it out for minibatch_size ({self.minibatch_size})")
        if client is not None:
            from snngraph.runtimes.distributed.shards import predict_on_cluster

            return self._by_probe(predict_on_cluster(self, x, n_steps, size, verbose, what,
                                                     client))
        feeds, fed_steps = self._feeds(x, n_steps, None, exact=False)
        n_examples = len(next(iter(feeds.values())))
        steps = n_steps or fed_steps
        bar = self._progress(math.ceil(n_examples / size), "minibatch", what, verbose,
                             f"{plural(n_examples, 'example')} x {plural(steps, 'step')}")
        out = self._run_examples(feeds, steps, size, 0, bar.update if bar else None)
        if bar:
            bar.close()
        return self._by_probe(out)

    def _run_examples(self, feeds: dict[str, np.ndarray], steps: int, size: int,
                      first: int, done: Callable[[int], Any] | None = None
                      ) -> dict[str, np.ndarray]:
        """Every example of ``feeds`` (checked ``[examples, steps or 1, size]``) in
        minibatches of ``size``, by probe op name. ``first``: the index of ``feeds``'
        first example in the whole dataset, which seeds its random draws, so a range of
        a dataset run elsewhere (a worker of a cluster) gives the same values.
        ``done(1)`` after each minibatch."""
        n_examples = len(next(iter(feeds.values())))
        results: dict[str, list[np.ndarray]] = {name: [] for name in self._probes}
        for start in range(0, n_examples, size):
            stop = min(start + size, n_examples)
            self._backend.allocate(stop - start)
            self._backend.reset(self.seed)
            chunk = {k: v[start:stop] for k, v in feeds.items()}
            for name, values in self._backend.run(steps, chunk, 0, first + start,
                                                  None).items():
                results[name].append(values)
            if done is not None:
                done(1)
        self._backend.allocate(self.minibatch_size)
        self._backend.reset(self.seed)
        return {k: np.concatenate(v) for k, v in results.items()}

    def resources(self) -> Any:
        """``backend="loihi"``: the resource report with an energy estimate from the
        activity measured so far (per inference = the longest run, in steps)."""
        self._check_open()
        chip = getattr(self._backend, "chip", None)
        return self.program.resources(chip.activity if chip is not None else None)

    def _by_probe(self, by_name: dict[str, np.ndarray]) -> ProbeResults:
        return ProbeResults(by_name, ProbeIndex(self))

    def _probe_op(self, key: Any) -> str | None:
        """The probe op a Probe object, a label or an op name names (None: none)."""
        return ProbeIndex(self).op(key)

    def _progress(self, total: int, unit: str = "step", what: str = "run_steps",
                  verbose: int = 1, detail: str = "") -> Any:
        """A progress bar (or start and end lines off a terminal; verbose=2: the lines
        only), or None when ``progress_bar=False`` or ``verbose=0``."""
        if not self.progress_bar or not verbose:
            return None
        from snngraph.runtimes.progress import Progress

        return Progress(total, unit, what, detail, terminal=False if verbose == 2 else None)

def _check_compile_options(options: dict[str, Any], backend: str) -> None:
    """Simulator's extra keywords go to ``sg.compile``: a misspelled one gets "did you
    mean" among both sets of names (not compile()'s bare TypeError)."""
    import inspect

    from snngraph.compiler.pipeline import compile as compile_

    if "target" in options:
        raise ValidationError(
            f"Simulator: target={short_repr(options['target'])}: the Simulator compiles for "
            f"the target its backend runs (backend={backend!r})\n  fix: pass backend="
            "'numba', 'rate' or 'loihi' (or a Program compiled with sg.compile(net, "
            "target=...))", obj="Simulator", field="target", value=options["target"])
    own = [n for n in inspect.signature(Simulator.__init__).parameters
           if n not in ("self", "network", "compile_options")]
    known = own + [n for n in inspect.signature(compile_).parameters if n not in ("net",)]
    error = unknown_keyword("Simulator", options, dict.fromkeys(known))
    if error is not None:
        raise error


def _check_dtype(dtype: Any, backend: str) -> np.dtype:
    """``dtype`` as a NumPy dtype: float32 (also for None), or float64 on a backend that
    computes in it (its factory lists ``dtypes``)."""
    from snngraph.runtimes.numba_cpu.executor import DTYPES

    try:
        found = None if isinstance(dtype, bool) else np.dtype(
            "float32" if dtype is None else dtype)
    except TypeError:
        found = None
    if found is None or found not in DTYPES:  # (np.dtype == None holds for float64)
        raise ValidationError(f"Simulator.dtype: expected 'float32' or 'float64' (got "
                              f"{short_repr(dtype)})\n  fix: dtype='float64' computes as "
                              "Nengo's reference simulator does; leave it out for float32 "
                              "(the default, faster)", obj="Simulator", field="dtype",
                              value=dtype)
    factory = _backend(backend)
    if found not in getattr(factory, "dtypes", (np.dtype(np.float32),)):
        raise ValidationError(f"Simulator.dtype: backend={backend!r} computes in float32 "
                              f"only (got dtype={short_repr(dtype)})\n  fix: "
                              "backend='numba' runs in float64; or leave dtype out",
                              obj="Simulator", field="dtype", value=dtype)
    return found


def _check_memory(program: Any, minibatch_size: int, itemsize: int = 4) -> None:
    """Refuse a minibatch whose state buffers cannot fit in memory before allocating
    them (numpy's MemoryError names neither the argument nor a fix)."""
    per_example = _bytes_per_example(program.ir, itemsize)
    need, free = per_example * minibatch_size, _memory_available()
    if free is None or need <= free:
        return
    fits = max(1, free // max(per_example, 1) // 2)
    raise ValidationError(
        f"Simulator.minibatch_size: {minibatch_size:,} examples at once need about "
        f"{_bytes(need)} for the network's state ({_bytes(per_example)} per example), more "
        f"than the {_bytes(free)} of memory available (got minibatch_size={minibatch_size})"
        f"\n  fix: use a smaller minibatch_size (e.g. {min(fits, 1024):,}); sim.predict "
        "streams a dataset of any size through minibatches", obj="Simulator",
        field="minibatch_size", value=minibatch_size)


def _bytes_per_example(ir: Any, itemsize: int = 4) -> int:
    """What the runtimes hold per example, values of ``itemsize`` bytes: each op's value
    and the neurons', filters' and delays' state (a lower bound; recorded probe data
    come on top)."""
    total = 0
    for op in ir.ops():
        n = op.size
        total += itemsize * n
        if op.op == "neurons":
            total += itemsize * n * (len(op.state) + 1)
        elif op.op == "synapse":
            total += 16 * n
        elif op.op == "delay":
            total += itemsize * n * op.steps
        elif op.op == "conv2d":
            total += 8 * math.prod(op.shape_in)
        elif op.op == "learn":  # the example's own weights, and RLS's P (float64)
            total += itemsize * n + (8 * op.shape[1] ** 2 if op.rule["type"] == "RLS" else 0)
    return total


def _memory_available() -> int | None:
    """Bytes of memory available (Linux: MemAvailable; else all physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def _check_dt(dt: Any, compiled: float | None) -> None:
    """``dt``: a positive, finite number of seconds, and a Program's own when given one."""
    from snngraph.compiler.pipeline import valid_dt

    if dt is None:
        return
    if not valid_dt(dt):
        raise ValidationError(f"Simulator.dt: expected a positive, finite number of seconds "
                              f"(got {short_repr(dt)})\n  fix: dt=0.001 (1 ms, the default) "
                              "or another time step in seconds", obj="Simulator",
                              field="dt", value=dt)
    if compiled is not None and dt != compiled:
        raise ValidationError(f"Simulator.dt: {dt!r} s differs from the dt the Program was "
                              f"compiled with ({compiled!r} s); a Program runs at its own "
                              f"dt\n  fix: compile for this step, sg.compile(net, dt={dt!r}), "
                              "or leave dt out", obj="Simulator", field="dt", value=dt)


def _check_int(field: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        whole = isinstance(value, float) and value.is_integer() and value >= low
        raise ValidationError(f"Simulator.{field}: expected an integer >= {low} (got "
                              f"{short_repr(value)})\n  fix: pass a whole number, e.g. "
                              f"{field}={int(value) if whole else low}", obj="Simulator",
                              field=field, value=value)


for _name in ("compile", "fit", "evaluate", "predict", "run_steps", "run"):
    # a misspelled keyword gets "did you mean" (the methods' signatures stay as written)
    setattr(Simulator, _name, keywords_checked(getattr(Simulator, _name),
                                               f"Simulator.{_name}"))
