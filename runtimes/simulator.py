"""``Simulator``: the one interface every runtime plugs into (DESIGN.md 3.4).

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
from snngraph.runtimes.training import Training

from snngraph.errors import SnnError, ValidationError, short_repr

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
        raise ValidationError(f"Simulator.backend: unknown backend {name!r}; available: "
                              f"{', '.join(sorted({*BACKENDS, 'numba', 'rate', 'loihi'}))}",
                              obj="Simulator", field="backend", value=name)
    return BACKENDS[name]


class SimulatorClosed(SnnError, RuntimeError):
    """The simulator was used after ``close()``."""


class Simulator(Training):
    """Runs a network (compiled for ``target="cpu"``, or ``"rate"`` with
    ``backend="rate"``) or a compiled Program; trains it (``fit``, see training.py)."""

    def __init__(self, network: Any, backend: str = "numba", dt: float = 0.001,
                 minibatch_size: int = 1, seed: int | None = None, progress_bar: bool = True,
                 fuse: bool | str = "auto", **compile_options: Any):
        """``fuse``: compile the whole time loop into one function (True), never (False),
        or for runs big enough to repay the compile ("auto"); see
        runtimes/numba_cpu/fused.py. Both give identical results."""
        from snngraph.compiler.program import Program

        _check_int("minibatch_size", minibatch_size, 1)
        if seed is not None:
            _check_int("seed", seed, 0)
        self.backend_name = backend
        self.compile_options = dict(compile_options, dt=dt)
        if isinstance(network, Program):
            self.program, self.network = network, None
        else:
            import snngraph as sg

            target = {"rate": "rate", "loihi": "loihi"}.get(backend, "cpu")
            self.program = sg.compile(network, target=target, **self.compile_options)
            self.network = network
        self.dt = self.program.ir.dt
        self.minibatch_size, self.progress_bar = minibatch_size, progress_bar
        self.seed = seed if seed is not None else (self.program.ir.seed or 0)
        if fuse not in (True, False, "auto"):
            raise ValidationError(f"Simulator.fuse: expected True, False or 'auto' (got "
                                  f"{short_repr(fuse)})", obj="Simulator", field="fuse",
                                  value=fuse)
        self.fuse = fuse
        self._backend = _backend(backend)(self.program, self.seed, fuse=fuse)
        self._probes = {op.name: op for op in self.program.ir.ops() if op.op == "probe"}
        self._closed = False
        self._init_training()
        self.reset(seed)

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

    def run(self, seconds: float, data: Any = None) -> None:
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
        self._check_open()
        return ProbeData(self, {name: (np.concatenate(v, axis=1) if v else
                                       np.zeros((self.minibatch_size, 0, *self._probes[name].shape),
                                                np.float32)) for name, v in self._data.items()})

    def predict(self, x: Any, n_steps: int | None = None, batch_size: int | None = None,
                verbose: int | str = "auto") -> dict[Any, np.ndarray]:
        """Run every example of ``x`` for ``n_steps`` (from a fresh state each minibatch)
        and return ``{probe: [examples, steps, *shape]}``.

        ``batch_size``: examples run at once in this call (default ``minibatch_size``;
        results do not depend on it). ``verbose``: 0 silent, 1 a progress bar (start and
        end lines when the output is not a terminal), 2 the lines only."""
        return self._predict(x, n_steps, batch_size, verbose, "predict")

    def _predict(self, x: Any, n_steps: int | None, batch_size: int | None,
                 verbose: int | str, what: str) -> dict[Any, np.ndarray]:
        from snngraph.runtimes.progress import check_verbose, plural
        from snngraph.runtimes.training import _check_count

        self._check_open()
        verbose = check_verbose(verbose, f"Simulator.{what}")
        size = self.minibatch_size if batch_size is None else batch_size
        _check_count("batch_size", size, what,
                     f"batch_size=32, or leave it out for minibatch_size ({self.minibatch_size})")
        feeds, fed_steps = self._feeds(x, n_steps, None, exact=False)
        n_examples = len(next(iter(feeds.values())))
        steps = n_steps or fed_steps
        results: dict[str, list[np.ndarray]] = {name: [] for name in self._probes}
        bar = self._progress(math.ceil(n_examples / size), "minibatch", what, verbose,
                             f"{plural(n_examples, 'example')} x {plural(steps, 'step')}")
        for start in range(0, n_examples, size):
            stop = min(start + size, n_examples)
            self._backend.allocate(stop - start)
            self._backend.reset(self.seed)
            chunk = {k: v[start:stop] for k, v in feeds.items()}
            for name, values in self._backend.run(steps, chunk, 0, start, None).items():
                results[name].append(values)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
        self._backend.allocate(self.minibatch_size)
        self._backend.reset(self.seed)
        return self._by_probe({k: np.concatenate(v) for k, v in results.items()})

    def resources(self) -> Any:
        """``backend="loihi"``: the resource report with an energy estimate from the
        activity measured so far (per inference = the longest run, in steps)."""
        self._check_open()
        chip = getattr(self._backend, "chip", None)
        return self.program.resources(chip.activity if chip is not None else None)

    # -- inputs
    def _input_ops(self) -> dict[str, Any]:
        return {op.name: op for op in self.program.ir.ops() if op.op == "input"}

    def _feeds(self, data: Any, n_steps: int | None, batch: int | None,
               exact: bool) -> tuple[dict[str, np.ndarray], int]:
        """Each input op's data as ``[examples, steps or 1, size]``, and the most steps
        any input gives."""
        inputs = self._input_ops()
        if data is None:
            if not exact:
                raise ValidationError("Simulator.predict: needs input data",
                                      obj="Simulator", field="x", value=None)
            return {}, 0
        if not isinstance(data, dict):
            if len(inputs) != 1:
                raise ValidationError(
                    f"Simulator: a bare array needs exactly one input node, this network has "
                    f"{len(inputs)}; pass {{node: array}}", obj="Simulator", field="data",
                    value=short_repr(data))
            data = {next(iter(inputs)): data}
        feeds = {}
        for key, value in data.items():
            name = self._op_name(key, inputs)
            feeds[name] = self._shaped(name, inputs[name], value, n_steps, batch)
        sizes = {len(v) for v in feeds.values()}
        if len(sizes) > 1:
            raise ValidationError(f"Simulator: inputs have different numbers of examples "
                                  f"({sorted(sizes)})", obj="Simulator", field="data",
                                  value=sorted(sizes))
        steps = max((v.shape[1] for v in feeds.values()), default=0)
        return {k: _held(v) for k, v in feeds.items()}, steps

    def _op_name(self, key: Any, inputs: dict[str, Any]) -> str:
        if isinstance(key, str) and key in inputs:
            return key
        try:
            name = self.program.op_of(key)
        except KeyError:
            name = None
        if name not in inputs:
            raise ValidationError(f"Simulator: {short_repr(key)} is not an input node of this "
                                  f"network (inputs: {', '.join(inputs) or 'none'})",
                                  obj="Simulator", field="data", value=key)
        return name

    def _shaped(self, name: str, op: Any, value: Any, n_steps: int | None,
                batch: int | None) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, None, :]  # [examples, size] held constant over the steps
        where = f"Simulator: data for {name} ({', '.join(o.obj for o in op.src)})"
        if arr.ndim != 3 or arr.shape[2] != op.size:
            raise ValidationError(f"{where}: expected shape [examples, steps, {op.size}] or "
                                  f"[examples, {op.size}], got {np.shape(value)}",
                                  obj="Simulator", field="data", value=np.shape(value))
        if n_steps is not None and arr.shape[1] not in (1, n_steps):
            raise ValidationError(f"{where}: has {arr.shape[1]} steps, the run has {n_steps}",
                                  obj="Simulator", field="data", value=np.shape(value))
        if batch is not None and len(arr) != batch:
            raise ValidationError(f"{where}: has {len(arr)} examples but minibatch_size is "
                                  f"{batch}; use sim.predict for a whole dataset",
                                  obj="Simulator", field="data", value=np.shape(value))
        if not np.all(np.isfinite(_held(arr))):
            raise ValidationError(f"{where}: contains NaN or inf", obj="Simulator",
                                  field="data", value="non-finite")
        return arr

    def _by_probe(self, by_name: dict[str, np.ndarray]) -> dict[Any, np.ndarray]:
        out: dict[Any, np.ndarray] = {}
        if self.network is not None:
            for probe in self.network.all_probes:
                name = self.program.ir.objects.get(id(probe))
                if name in by_name:
                    out[probe] = by_name[name]
        for name, values in by_name.items():
            out.setdefault(name, values)
        return out

    def _progress(self, total: int, unit: str = "step", what: str = "run_steps",
                  verbose: int = 1, detail: str = "") -> Any:
        """A progress bar (or start and end lines off a terminal; verbose=2: the lines
        only), or None when ``progress_bar=False`` or ``verbose=0``."""
        if not self.progress_bar or not verbose:
            return None
        from snngraph.runtimes.progress import Progress

        return Progress(total, unit, what, detail, terminal=False if verbose == 2 else None)


def _held(arr: np.ndarray) -> np.ndarray:
    """An input repeated over the steps by ``np.broadcast_to`` (a zero stride on the step
    axis) as one row per example, which the runtimes hold: never copied out step by step
    (10,000 MNIST images x 32 steps would be 1 GB)."""
    return arr[:, :1] if arr.shape[1] > 1 and arr.strides[1] == 0 else arr


class ProbeData(dict):
    """``sim.data``: indexed by Probe object or probe op name."""

    def __init__(self, sim: Simulator, by_name: dict[str, np.ndarray]):
        super().__init__(sim._by_probe(by_name))
        self._sim = sim

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return super().__getitem__(key)
        except (KeyError, TypeError):
            raise ValidationError(f"sim.data: {short_repr(key)} is not a probe of this "
                                  "simulator", obj="Simulator", field="data", value=key
                                  ) from None


def _check_int(field: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValidationError(f"Simulator.{field}: expected an integer >= {low} (got "
                              f"{short_repr(value)})", obj="Simulator", field=field,
                              value=value)
