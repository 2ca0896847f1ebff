"""``snngraph.nengo.Simulator``: Nengo's Simulator interface on snngraph's numba runtime.

``Simulator(network)`` converts a ``nengo.Network`` (``from_nengo``), compiles it with
snngraph's compiler and runs it op by op on the numba runtime (``fuse=True`` compiles the
whole time loop into one function, worth it for long runs). What a Nengo user reads
follows Nengo's rules: ``sim.data[probe]`` is ``[samples, *shape]`` (no batch axis),
sampled every ``probe.sample_every`` as Nengo samples, and readable after ``close()``;
``sim.data[ens]`` and ``sim.data[conn]`` are Nengo's ``BuiltEnsemble`` and
``BuiltConnection`` made from what snngraph's lowering sampled and solved.

Precision: like NengoDL, snngraph computes in float32 by default (fast); ``dtype=
"float64"`` computes as Nengo's reference simulator does (Nengo's test suite runs so,
following ``nengo.rc["precision"]["bits"]``: tests/nengo/simloader.py).

``backend="loihi"`` runs the same converted network on snngraph's Loihi target instead
(the host part on the CPU, the chip part in the integer emulator: docs/loihi_nef.md), with
NengoLoihi's per-ensemble config (``add_params``: ``on_chip``, ``block_shape``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

import nengo
import numpy as np
from nengo.builder.connection import BuiltConnection
from nengo.builder.ensemble import BuiltEnsemble
from nengo.exceptions import ReadonlyError
from nengo.utils.progress import Progress, ProgressTracker

import snngraph as sg
from snngraph.errors import SnnError
from snngraph.nengo.convert import Conversion, from_nengo
from snngraph.nengo.errors import (
    NengoBuildError,
    NengoInvalid,
    NengoSimulationError,
    NengoSimulatorClosed,
    NengoValidationError,
    UnsupportedNengo,
    describe,
)
from snngraph.nengo.host import HostProcess
from snngraph.nengo.loihi_config import loihi_settings

MAX_SEED = 2**31 - 1
BACKENDS = ("numba", "loihi")
"""``Simulator(backend=...)``: snngraph's numba runtime, or its Loihi target (emulated)."""
DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
"""``Simulator(dtype=...)``: the precisions the numba runtime computes in."""
FUSE_FROM_STEPS = 2000
FUSE_CACHED_FROM_STEPS = 200
"""With ``fuse='auto'``, runs of ``FUSE_FROM_STEPS`` steps or more fuse the time loop
(repaying the seconds of compiling it once per network structure); runs of
``FUSE_CACHED_FROM_STEPS`` or more fuse too when that structure's loop ran before in any
process, as it then loads from Numba's disk cache in a fraction of a second."""
"""``fuse="auto"``: runs of at least this many steps compile the whole time loop (a
compile per network structure, cached on disk, repaid within about a thousand steps);
shorter runs, such as most of Nengo's test suite, stay op by op."""


class Simulator:
    """Runs a ``nengo.Network`` on snngraph (Nengo's ``Simulator`` interface).

    Parameters
    ----------
    network : nengo.Network
        The model, written for Nengo.
    dt : float, default 0.001
        Time step in seconds.
    seed : int | None
        Seed of the run's random draws (noise, processes); None: the network's seed + 1,
        or a random one, as Nengo. The model's own parameters (encoders, gains...) come
        from the network's seed.
    model : None
        Nengo's prebuilt ``Model``: not supported (snngraph builds the network itself).
    progress_bar : bool | nengo.utils.progress.ProgressBar, default True
        Nengo's progress bars for the build and each run (True: Nengo's default bar).
    optimize : bool, default True
        Accepted for Nengo's interface; snngraph's compiler passes always run.
    fuse : bool | str, default 'auto'
        Compile the whole time loop into one function (True), never (False), or for runs
        of at least ``FUSE_FROM_STEPS`` steps, or ``FUSE_CACHED_FROM_STEPS`` once compiled
        (``'auto'``); the results are the same.
    dtype : str | None, default None
        The precision of the simulation. None: float32, as NengoDL (snngraph computes in
        float32 by default, for speed; values agree with Nengo's to float32 rounding),
        with ``sim.data`` in float64 as Nengo gives it. ``'float64'`` computes as Nengo's
        reference simulator does (Nengo's default precision); ``'float32'`` as Nengo with
        ``nengo.rc["precision"]["bits"] = 32``. With either, ``sim.data`` and
        ``sim.signals`` hold that dtype. ``backend='loihi'`` computes in float32 on the
        host and in the chip's integers: float64 is refused.
    backend : str, default 'numba'
        ``'numba'``: every object on snngraph's numba runtime. ``'loihi'``: snngraph's
        Loihi target, as NengoLoihi runs a model: spiking ensembles on the emulated chip
        (unless ``net.config[ens].on_chip = False`` after ``add_params(net)``), split into
        cores by ``block_shape`` or the partitioner, Nodes and probes on the host.
        Ensembles on the chip start at rest (a warning says so when the neuron type
        draws its initial state, as NengoLoihi's does). ``sim.program.resources()`` lists
        cores and synapses. What the chip cannot run raises a BuildError naming the Nengo
        object.
    **compile_options
        ``sg.compile``'s options for the target, such as ``loihi_input_rate`` (the rate of
        the on/off neurons that send host values to the chip), ``loihi_decode``
        (``'auto'``, ``'weights'`` or ``'decode_neurons'``; docs/loihi_nef.md) or
        ``scale_firing_rates``.
    """

    def __init__(self, network: Any, dt: float = 0.001, seed: int | None = None,
                 model: Any = None, progress_bar: bool = True, optimize: bool = True,
                 fuse: bool | str = "auto", dtype: str | None = None,
                 backend: str = "numba", **compile_options: Any):
        self.closed = True  # until built, as Nengo's
        self.backend = _check_backend(backend, dtype)
        self.compile_options = _check_compile_options(compile_options)
        if model is not None:
            raise UnsupportedNengo(model, "a prebuilt nengo.builder.Model is not supported: "
                                   "snngraph builds the network itself",
                                   fix="pass the network: Simulator(network)")
        if not isinstance(network, nengo.Network):
            raise NengoValidationError(f"Simulator.network: expected a nengo.Network, got "
                                       f"{type(network).__name__}", attr="network")
        if isinstance(dt, bool) or not (isinstance(dt, int | float | np.number)
                                        and np.isfinite(dt) and dt > 0):
            raise NengoValidationError(f"Simulator.dt: expected a positive number of seconds "
                                       f"(got {dt!r})", attr="dt")
        self._dt, self.progress_bar, self.optimize = float(dt), progress_bar, optimize
        self._dtype_given = dtype  # (None: float32 computed, float64 data; kept to pickle)
        self.dtype = _check_dtype(dtype)
        """The precision computed in (float32 for ``dtype=None``)."""
        self.data_dtype = np.dtype(np.float64) if dtype is None else self.dtype
        """The precision of ``sim.data``: float64 (Nengo's) unless ``dtype`` was given."""
        self.fuse = fuse
        self.network = network
        with ProgressTracker(progress_bar, Progress("Building", "Build")):
            self.conversion = from_nengo(network)
            if self.backend == "loihi":
                _as_on_chip(self.conversion, network)
            self._sample_every = self._take_sampling(self.conversion)
            self._sim = self._compile(self.conversion, fuse)
        self.program = self._sim.program
        self.data = SimulationData(self)
        if seed is None:
            seed = network.seed + 1 if network.seed is not None else \
                int(np.random.randint(MAX_SEED))
        self.closed = False
        self.reset(seed)

    # -- building
    def _take_sampling(self, conv: Conversion) -> dict[Any, float | None]:
        """The converted probes (this Simulator's own copy) record every step; ``data``
        keeps Nengo's samples, whose rule also holds when sample_every is not a whole
        number of steps."""
        periods = {}
        for probe in conv.network.all_probes:
            every, probe.sample_every = probe.sample_every, None
            periods[conv.nengo(probe)] = None if every is None else every / self._dt
        return periods

    def _compile(self, conv: Conversion, fuse: bool) -> Any:
        if not any(not isinstance(o, sg.Network) for o in conv.network.all_objects):
            return EmptyRun()  # Nengo runs an empty network: time passes
        try:
            return sg.Simulator(conv.network, backend=self.backend, dt=self._dt,
                                progress_bar=False, fuse=fuse if fuse != "auto" else False,
                                dtype=self.dtype.name, **self.compile_options)
        except (NengoBuildError, UnsupportedNengo):
            raise
        except sg.ValidationError as exc:  # a value Nengo validates as it builds
            raise NengoInvalid(str(exc), attr=exc.field) from None
        except SnnError as exc:
            raise _build_error(str(exc), conv, self.backend) from None

    # -- Nengo's read-only properties
    @property
    def dt(self) -> float:
        return self._dt

    @dt.setter
    def dt(self, value: Any) -> None:
        raise ReadonlyError(attr="dt", obj=self)

    @property
    def n_steps(self) -> int:
        return self._n_steps

    @property
    def time(self) -> float:
        return self._n_steps * self._dt

    @property
    def signals(self) -> Mapping[str, np.ndarray]:
        """The runtime's live values, read-only, in ``dtype``: each op's output by its
        name in the compiled program (``print(sim.program)``), and each neuron op's
        state variables as ``name.variable`` (e.g. ``%a.voltage``). Not Nengo's
        ``SignalDict`` (snngraph has no Nengo signals): what Nengo's tests of precision
        read."""
        self._check_open("read signals")
        if self.backend != "numba":
            raise NengoValidationError(f"Simulator.signals: backend={self.backend!r} does not "
                                       "expose its values (the chip's state is integers in "
                                       "the emulator)\n  fix: backend='numba'",
                                       attr="signals", obj=self)
        live = self._sim.signals() if not isinstance(self._sim, EmptyRun) else {}
        views = {}
        for name, value in live.items():
            view = value[0]  # the one example a Nengo simulator runs
            view.flags.writeable = False
            views[name] = view
        return MappingProxyType(views)

    # -- pickling: the network and the run's state, rebuilt on load
    def __getstate__(self) -> dict[str, Any]:
        hosted = [n for n in self.conversion.network.all_nodes
                  if isinstance(n.output, HostProcess)]
        if hosted and not self.closed:
            raise UnsupportedNengo(self.conversion.nengo(hosted[0]),
                                   "cannot pickle the Simulator: this node's Process runs "
                                   "on the host and keeps its state in Python closures",
                                   fix="use one of Nengo's processes snngraph runs natively "
                                   "(WhiteSignal, WhiteNoise, Piecewise with numbers...)")
        backend = getattr(self._sim, "_backend", None)
        if self.backend != "numba" and not self.closed:
            raise NengoBuildError(f"cannot pickle an open Simulator with backend="
                                  f"{self.backend!r}: the emulated chip's state is not "
                                  "saved\n  fix: close() it first (its data are kept), or "
                                  "backend='numba'")
        return {"backend": self.backend, "network": self.network, "dt": self._dt,
                "seed": self.seed, "progress_bar": self.progress_bar,
                "optimize": self.optimize, "fuse": self.fuse, "dtype": self._dtype_given,
                "n_steps": self._n_steps, "chunks": self._chunks, "closed": self.closed,
                "arrays": backend.state_arrays() if backend is not None else None,
                "compile_options": self.compile_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["network"], dt=state["dt"], seed=state["seed"],
                      progress_bar=False, optimize=state["optimize"], fuse=state["fuse"],
                      dtype=state["dtype"], backend=state["backend"],
                      **state.get("compile_options", {}))
        self.progress_bar = state["progress_bar"]
        if state["arrays"] is not None:
            self._sim._backend.load_state_arrays(state["arrays"])
            self._sim.n_steps = state["n_steps"]
        self._n_steps, self._chunks = state["n_steps"], state["chunks"]
        if state["closed"]:  # a closed simulator stays closed (its data readable)
            self.close()

    # -- lifetime
    def __enter__(self) -> Simulator:
        if self.closed:
            raise NengoSimulatorClosed("Cannot re-open after simulator is closed")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            warnings.warn(f"{self!r} was deallocated while open. Please close simulators "
                          "manually to ensure resources are properly freed.",
                          ResourceWarning, stacklevel=2)

    def close(self) -> None:
        """Frees the runtime; ``data`` stays readable, running raises SimulatorClosed."""
        self.closed = True
        if self._sim is not None:
            self._sim.close()
        self._sim = None

    def _check_open(self, what: str) -> None:
        if self.closed:
            raise NengoSimulatorClosed(f"Simulator cannot {what} because it is closed.")

    def reset(self, seed: int | None = None) -> None:
        """Back to time 0 with new random draws when ``seed`` is given."""
        self._check_open("reset")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
                raise NengoValidationError(f"Simulator.seed: expected an integer (got "
                                           f"{seed!r})", attr="seed", obj=self)
            self.seed = int(seed)  # as given (Nengo's); the runtime takes it modulo 2**31
        self._sim.reset(self.seed % (MAX_SEED + 1))
        rng = np.random.RandomState(self.seed % 2**32)
        for sg_obj in self.conversion.network.all_nodes:
            if isinstance(sg_obj.output, HostProcess):
                sg_obj.output.bind(self._dt, int(rng.randint(MAX_SEED)))
        self._n_steps = 0
        self.clear_probes()

    def clear_probes(self) -> None:
        """Forget what the probes recorded (time keeps going)."""
        self._chunks: dict[Any, list[np.ndarray]] = {p: [] for p in self._sample_every}
        self.data.reset()

    # -- running
    def run(self, time_in_seconds: float, progress_bar: Any = None) -> None:
        """Advance ``time_in_seconds`` (rounded to whole steps)."""
        if time_in_seconds < 0:
            raise NengoValidationError(f"Must be positive (got {time_in_seconds:g})",
                                       attr="time_in_seconds")
        steps = int(np.round(float(time_in_seconds) / self._dt))
        if steps == 0:
            warnings.warn(f"{time_in_seconds} results in running for 0 timesteps. Simulator "
                          f"still at time {self.time}.", stacklevel=2)
        else:
            self.run_steps(steps, progress_bar)

    def run_steps(self, steps: int, progress_bar: Any = None) -> None:
        self._check_open("run")
        steps = int(steps)
        bar = self.progress_bar if progress_bar is None else progress_bar
        if self.fuse == "auto" and not isinstance(self._sim, EmptyRun):
            self._sim.set_fuse(steps >= FUSE_FROM_STEPS or (
                steps >= FUSE_CACHED_FROM_STEPS and self._sim.fused_cached()))
        with ProgressTracker(bar, Progress("Simulating", "Simulation", steps)) as tracker:
            try:
                self._sim.run_steps(steps)
            except sg.SimulationError as exc:
                raise NengoSimulationError(str(exc)) from None
            tracker.total_progress.step(steps)
        recorded = self._sim.take_data()
        for sg_probe in self.conversion.network.all_probes:
            probe = self.conversion.nengo(sg_probe)
            values = recorded[self._sim._probe_op(sg_probe)][0]
            self._chunks[probe].append(self._sampled(probe, values, steps))
        self._n_steps += steps

    def step(self) -> None:
        self.run_steps(1)

    def _sampled(self, probe: Any, values: np.ndarray, steps: int) -> np.ndarray:
        period = self._sample_every[probe]
        if period is None:
            return values
        k = np.arange(self._n_steps + 1, self._n_steps + steps + 1)
        return values[k % period < 1]

    def trange(self, dt: float | None = None, sample_every: float | None = None
               ) -> np.ndarray:
        """The times of the recorded samples (end of each step, from ``dt``)."""
        if dt is not None:
            if sample_every is not None:
                raise NengoValidationError("Cannot specify both `dt` and `sample_every`. "
                                           "Use `sample_every` only.", attr="dt", obj=self)
            warnings.warn("`dt` is deprecated. Use `sample_every` instead.",
                          DeprecationWarning, stacklevel=2)
            sample_every = dt
        period = 1 if sample_every is None else sample_every / self._dt
        steps = np.arange(1, self._n_steps + 1)
        return self._dt * steps[steps % period < 1]


COMPILE_OPTIONS = ("swap", "scale_firing_rates", "synapse", "loihi_input_rate", "loihi_decode",
                   "loihi_decode_neurons", "loihi_input_encoding", "loihi_vth_profiles")
"""``sg.compile``'s options that a Nengo model may set (the rest are snngraph's own:
``params``, ``passes``, printing)."""


def _check_compile_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(COMPILE_OPTIONS))
    if unknown:
        raise NengoValidationError(
            f"Simulator: unknown option(s) {', '.join(map(repr, unknown))}; the options of "
            f"snngraph's compiler are {', '.join(COMPILE_OPTIONS)}", attr=unknown[0])
    return options


def _check_backend(backend: Any, dtype: Any) -> str:
    """``Simulator.backend`` checked (and ``dtype`` against it)."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise NengoValidationError(f"Simulator.backend: expected 'numba' or 'loihi' (got "
                                   f"{backend!r}); 'numba' runs on the CPU, 'loihi' on "
                                   "snngraph's emulated Loihi chip", attr="backend")
    if backend == "loihi" and dtype is not None and _check_dtype(dtype) != np.float32:
        raise NengoValidationError(f"Simulator.dtype: backend='loihi' computes in float32 on "
                                   f"the host and in integers on the chip (got dtype="
                                   f"{dtype!r})\n  fix: dtype=None, or backend='numba'",
                                   attr="dtype")
    return backend


CHIP_TYPES = {sg.LIF: sg.LoihiLIF, sg.SpikingRectifiedLinear: sg.LoihiSpikingRectifiedLinear}
"""Nengo's spiking types as the chip runs them: NengoLoihi solves the decoders of an
ensemble on the chip with the chip's rates (its ``loihi_rates``: whole-step refractory
period, one spike per step at most), as snngraph's Loihi types do."""


def _as_on_chip(conv: Conversion, network: nengo.Network) -> None:
    """Ensembles that go on the chip run Nengo's neuron type as the chip does
    (CHIP_TYPES), and start at rest: a chip compartment cannot load a drawn initial state
    (Nengo 4's LIF draws its voltage from U(0, 1)), so that state is dropped with
    NengoLoihi's warning. ``on_chip=False`` keeps an ensemble's type and state."""
    settings = loihi_settings(network)
    for nengo_obj, sg_obj in conv.pairs():
        if not isinstance(nengo_obj, nengo.Ensemble) or settings.get(
                id(nengo_obj), (None, {}))[1].get("on_chip", True) is False:
            continue
        ntype = sg_obj.neuron_type
        if not getattr(ntype, "spiking", False):
            continue  # the compiler refuses it on the chip, naming the ensemble
        fields = {k: getattr(ntype, k) for k in type(ntype).model_fields}
        if _draws_state(ntype):
            warnings.warn(f"{describe(nengo_obj)}: the chip starts its neurons at rest; the "
                          f"initial state {type(nengo_obj.neuron_type).__name__} draws is "
                          "not used (as NengoLoihi; on_chip=False keeps it)", stacklevel=4)
            fields["state_init"] = ()
        sg_obj.neuron_type = CHIP_TYPES.get(type(ntype), type(ntype))(**fields)


def _draws_state(ntype: Any) -> bool:
    """The neuron type starts some state variable away from zero."""
    for _, value in getattr(ntype, "state_init", ()):
        if isinstance(value, sg.dists.Choice):
            if np.any(np.asarray(value.options) != 0):
                return True
        elif not (np.ndim(value) == 0 and isinstance(value, int | float | np.number)
                  and value == 0):
            return True
    return False


def _build_error(message: str, conv: Conversion, backend: str) -> NengoBuildError:
    """snngraph's compile error as Nengo's BuildError, led by the Nengo object it names:
    found by the converted object's description in the message (the first one named, the
    longest description where two start at the same place). Unlabeled objects of a kind
    can share a description; then every candidate is named."""
    hits = []
    for nengo_obj, sg_obj in conv.pairs():
        text = "" if isinstance(sg_obj, sg.Network) else sg_obj._describe()
        at = message.find(text) if text else -1
        if at >= 0:
            hits.append((at, -len(text), nengo_obj))
    best = min((h[:2] for h in hits), default=None)
    named = [h[2] for h in hits if h[:2] == best]
    if named:
        names = ", ".join(_nengo_name(o) for o in named)
        message = f"{names if len(named) == 1 else 'one of ' + names}: {message}"
    if backend == "loihi":
        message += ("\n  (a Nengo model: after snngraph.nengo.add_params(net), "
                    "net.config[ens].on_chip = False keeps an ensemble on the host; "
                    "backend='numba' runs the whole model on the CPU)")
    error = NengoBuildError(message)
    error.nengo_obj = named[0] if len(named) == 1 else None
    return error


def _nengo_name(obj: Any) -> str:
    """Nengo's own text for an unlabeled object says what it is (a connection's ends)."""
    return describe(obj) if getattr(obj, "label", None) else str(obj)


def _check_dtype(dtype: Any) -> np.dtype:
    """``Simulator.dtype`` as a NumPy dtype (None: float32, the default)."""
    if dtype is None:
        return DTYPES["float32"]
    try:
        found = None if isinstance(dtype, bool) else np.dtype(dtype)
    except TypeError:
        found = None
    if found is None or found not in DTYPES.values():  # (np.dtype == None: float64)
        raise NengoValidationError(f"Simulator.dtype: expected None, 'float32' or 'float64' "
                                   f"(got {dtype!r}); None computes in float32 (fast), "
                                   "'float64' as Nengo's reference simulator", attr="dtype")
    return found


class EmptyRun:
    """Stands in for snngraph's Simulator when the network has no objects: Nengo runs an
    empty network (time passes, nothing is recorded); snngraph's compiler refuses one."""

    def __init__(self) -> None:
        self.program = SimpleNamespace(ir=SimpleNamespace(built={}))  # nothing was built

    def run_steps(self, steps: int) -> None:
        pass

    def signals(self) -> dict[str, np.ndarray]:
        return {}

    def take_data(self) -> dict[str, np.ndarray]:
        return {}

    def reset(self, seed: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class SimulationData(Mapping):
    """``sim.data``: probe data ``[samples, *shape]``, and the built parameters of
    ensembles (``BuiltEnsemble``) and connections (``BuiltConnection``)."""

    def __init__(self, sim: Simulator):
        self.sim = sim
        self._cache: dict[int, np.ndarray] = {}
        self._built_copies: dict[int, np.ndarray] = {}
        self._objects = [n for n, _ in sim.conversion.pairs()]

    def reset(self) -> None:
        self._cache.clear()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, nengo.Probe) and key in self.sim._sample_every:
            return self._probe(key)
        if key not in self.sim.conversion:
            raise KeyError(key)
        if isinstance(key, nengo.Ensemble):
            return self._ensemble(key)
        if isinstance(key, nengo.Connection):
            return self._connection(key)
        return None

    def _probe(self, probe: nengo.Probe) -> np.ndarray:
        chunks = self.sim._chunks[probe]
        n = sum(len(c) for c in chunks)
        cached = self._cache.get(id(probe))
        if cached is None or len(cached) != n:
            shape = self.sim.conversion[probe].size_in
            dtype = self.sim.data_dtype
            cached = np.concatenate(chunks).astype(dtype) if chunks else \
                np.zeros((0, shape), dtype)
            cached.setflags(write=False)
            self._cache[id(probe)] = cached
        return cached

    def _built(self, key: Any) -> dict[str, Any]:
        return self.sim.program.ir.built.get(id(self.sim.conversion[key]), {})

    def _ensemble(self, ens: nengo.Ensemble) -> BuiltEnsemble:
        b = self._built(ens)
        if isinstance(ens.neuron_type, nengo.Direct):  # it represents its input as is
            eye = np.identity(ens.dimensions)
            b = dict(b, encoders=eye, scaled_encoders=eye)
        b = self._in_dtype(b)
        return BuiltEnsemble(eval_points=b.get("eval_points"), encoders=b.get("encoders"),
                             intercepts=b.get("intercepts"), max_rates=b.get("max_rates"),
                             scaled_encoders=b.get("scaled_encoders"), gain=b.get("gain"),
                             bias=b.get("bias"))

    def _in_dtype(self, built: dict[str, Any]) -> dict[str, Any]:
        """The built arrays in ``data_dtype`` (the lowering computes them in float64), as
        Nengo's builder gives them in its precision; an array shared by several objects
        (an ensemble's eval points, which its connections decode at) stays shared."""
        return {k: self._converted(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                else v for k, v in built.items()}

    def _converted(self, arr: np.ndarray) -> np.ndarray:
        if arr.dtype == self.sim.data_dtype:
            return arr
        if id(arr) not in self._built_copies:  # the built dicts keep ``arr`` alive
            self._built_copies[id(arr)] = arr.astype(self.sim.data_dtype)
        return self._built_copies[id(arr)]

    def _connection(self, conn: nengo.Connection) -> BuiltConnection:
        b = self._in_dtype(self._built(conn))
        weights = b["weights"] if "weights" in b else \
            _weights(b.get("transform"), b.get("decoders"))
        if isinstance(conn.transform, nengo.Sparse) and nengo.transforms.scipy_sparse:
            weights = nengo.transforms.scipy_sparse.csr_matrix(weights)  # as Nengo gives it
        return BuiltConnection(eval_points=b.get("eval_points"),
                               solver_info=b.get("solver_info", {}), weights=weights,
                               transform=conn.transform)

    def __iter__(self):
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)


def _weights(transform: np.ndarray | None, decoders: np.ndarray | None) -> Any:
    """Nengo's ``BuiltConnection.weights``: the transform as sampled, times the decoders
    (``(n_neurons, d)``) on a decoded connection."""
    if decoders is None or transform is None:
        return transform
    d = decoders.T
    if transform.ndim == 2:
        return transform @ d
    return (transform[:, None] if transform.ndim == 1 else transform) * d
