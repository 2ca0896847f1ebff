"""The models behind tests/data/nir/: small snnTorch 1.0.0 and Norse 1.1.0 networks, each run
in its own library and exported with its own exporter (used by nir_fixtures.py).

Every update equation and NIR relation written into fixtures.json below was read from the
libraries' installed sources (snntorch/_neurons/{leaky,rleaky,synaptic,rsynaptic}.py,
snntorch/export_nir.py; norse/torch/functional/{lif,lif_box,leaky_integrator_box}.py,
norse/torch/utils/export_nir.py) and is checked on every recording by re-running the written
graph with tests/nir_reference.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nir
import numpy as np
import torch

T, BATCH = 80, 2
SNNTORCH_DT = 1e-4  # snntorch/export_nir.py hard-codes it; snnTorch models themselves have none
NORSE_DT = 1e-3  # the Norse cells' default dt, used when running them

H_NOTE = "H(x) = 1 if x > 0 else 0 (strict, both libraries)"

RULE_TEXT = {
    ("snntorch.Leaky", "subtract"): [
        "R[t] = H(U[t-1] - thr)   (last step's spike, recomputed from the stored membrane)",
        "U[t] = beta*U[t-1] + I[t] - thr*R[t]",
        "S[t] = H(U[t] - thr); U[-1] = 0; the recorded v is U[t] (above thr on a spiking step)",
    ],
    ("snntorch.Leaky", "zero"): [
        "R[t] = H(U[t-1] - thr)",
        "U[t] = beta*(1 - R[t])*U[t-1] + I[t]",
        "S[t] = H(U[t] - thr); U[-1] = 0; the recorded v is U[t] (before the next step's reset)",
    ],
    ("snntorch.RLeaky", "subtract"): [
        "R[t] = H(U[t-1] - thr) = S[t-1]",
        "U[t] = beta*U[t-1] + I[t] + (W_rec S[t-1] + b_rec) - thr*R[t]",
        "S[t] = H(U[t] - thr); U[-1] = 0, S[-1] = 0 (so b_rec is added from t = 0 on)",
    ],
    ("snntorch.RLeaky", "zero"): [
        "R[t] = H(U[t-1] - thr) = S[t-1]",
        "U[t] = (1 - R[t])*(beta*U[t-1] + I[t] + W_rec S[t-1] + b_rec)   (the whole new "
        "membrane, input included, is cleared the step after a spike)",
        "S[t] = H(U[t] - thr); U[-1] = 0, S[-1] = 0",
    ],
    ("snntorch.Synaptic", "subtract"): [
        "R[t] = H(U[t-1] - thr)",
        "syn[t] = alpha*syn[t-1] + I[t]",
        "U[t] = beta*U[t-1] + syn[t] - thr*R[t]",
        "S[t] = H(U[t] - thr); syn[-1] = U[-1] = 0",
    ],
    ("snntorch.Synaptic", "zero"): [
        "R[t] = H(U[t-1] - thr)",
        "syn[t] = alpha*syn[t-1] + I[t]   (syn is not reset)",
        "U[t] = (1 - R[t])*(beta*U[t-1] + syn[t])   (the whole new membrane is cleared)",
        "S[t] = H(U[t] - thr); syn[-1] = U[-1] = 0",
    ],
    ("snntorch.RSynaptic", "zero"): [
        "R[t] = H(U[t-1] - thr) = S[t-1]",
        "syn[t] = alpha*syn[t-1] + I[t] + W_rec S[t-1] + b_rec   (syn is not reset)",
        "U[t] = (1 - R[t])*(beta*U[t-1] + syn[t])",
        "S[t] = H(U[t] - thr); syn[-1] = U[-1] = 0, S[-1] = 0",
    ],
    ("norse.LIFBoxCell", "zero"): [
        "v~[t] = v[t-1] + dt*tau_mem_inv*((v_leak - v[t-1]) + I[t])",
        "z[t] = H(v~[t] - v_th)",
        "v[t] = (1 - z[t])*v~[t] + z[t]*v_reset   (no delay); v[-1] = v_leak; recorded v = v[t]",
    ],
    ("norse.LIBoxCell", None): [
        "v[t] = v[t-1] + dt*tau_mem_inv*((v_leak - v[t-1]) + I[t]); v[-1] = v_leak; output v[t]",
    ],
    ("norse.LIFCell", "zero"): [
        "i'[t] = i[t-1] + I[t]   (the input jumps into the current, unscaled)",
        "v~[t] = v[t-1] + dt*tau_mem_inv*((v_leak - v[t-1]) + i'[t])",
        "i[t] = i'[t] - dt*tau_syn_inv*i'[t]",
        "z[t] = H(v~[t] - v_th); v[t] = (1 - z[t])*v~[t] + z[t]*v_reset",
        "v[-1] = v_leak, i[-1] = 0; recorded v = v[t] (after the reset)",
    ],
    ("norse.LIFRecurrentCell", "zero"): [
        "i'[t] = i[t-1] + W_in x[t] + W_rec z[t-1]   (no biases; diagonal of W_rec is 0)",
        "v~[t] = v[t-1] + dt*tau_mem_inv*((v_leak - v[t-1]) + i'[t])",
        "i[t] = i'[t] - dt*tau_syn_inv*i'[t]",
        "z[t] = H(v~[t] - v_th); v[t] = (1 - z[t])*v~[t] + z[t]*v_reset",
        "v[-1] = v_leak, i[-1] = 0, z[-1] = 0",
    ],
}

SNNTORCH_LIF_FIELDS = [
    "dt = 1e-4 is hard-coded in snntorch/export_nir.py and is not written to the file",
    "nir.LIF: tau = dt/(1 - beta), r = tau/dt = 1/(1 - beta), v_leak = 0, v_reset = 0, "
    "v_threshold = thr",
    "forward Euler of tau dv/dt = (v_leak - v) + r*I, i.e. v += dt/tau*(v_leak - v + r*I), is "
    "then exactly U[t] = beta*U[t-1] + I[t] (dt/tau = 1 - beta, r*dt/tau = 1)",
]
SNNTORCH_CUBA_FIELDS = [
    "dt = 1e-4 is hard-coded in snntorch/export_nir.py and is not written to the file",
    "nir.CubaLIF: tau_syn = dt/(1 - alpha), tau_mem = dt/(1 - beta), w_in = tau_syn/dt, "
    "r = tau_mem/dt, v_leak = 0, v_reset = 0, v_threshold = thr",
    "forward Euler with the current first and the membrane driven by the new current, "
    "I += dt/tau_syn*(-I + w_in*x); v += dt/tau_mem*(v_leak - v + r*I), is then exactly "
    "syn[t] = alpha*syn[t-1] + x[t]; U[t] = beta*U[t-1] + syn[t] (w_in*dt/tau_syn = 1, "
    "r*dt/tau_mem = 1)",
]
SNNTORCH_RESET_FIELDS = {
    "subtract": "the reset is not in the file (v_reset = 0 reads as reset to zero): snnTorch "
    "subtracts thr one step late, after the decay, which no NIR field expresses; an importer "
    "has to be told",
    "zero": "v_reset = 0 matches, but the reset acts one step late on the stored membrane",
}
SNNTORCH_RECURRENT_FIELDS = [
    "the RLeaky/RSynaptic layer is written flat: '1.lif' and '1.w_rec' (nir.Affine of the "
    "recurrent nn.Linear, bias included) form a cycle '1.lif' -> '1.w_rec' -> '1.lif'; the "
    "edge into '1.lif' is read one step late (it carries W_rec S[t-1] + b_rec)",
    "at t = 0 snnTorch already adds b_rec (recurrent Linear of S[-1] = 0); NIRTorch's importer "
    "feeds 0 there (recurrent_t0 = 'bias' in this index)",
]
NORSE_FIELDS = [
    "dt (the cells' 1e-3 s) is not written to the file",
    "exported with norse.torch.to_nir(model, sample, dt=1.0): Norse 1.1 writes "
    "tau = <to_nir dt>/tau_mem_inv (Norse issue #411), so only dt=1.0 gives tau in seconds "
    "(= 1/tau_mem_inv); the default dt=1e-3 writes dt*tau (see lif_box_to_nir_default_dt)",
    "r = 1; v_leak and v_threshold copied; v_reset is not written (the file's 0 is nir's "
    "default, a nonzero Norse v_reset would be lost)",
]
NORSE_LIF_FIELDS = NORSE_FIELDS + [
    "nir.LIF: Euler of tau dv/dt = (v_leak - v) + r*I with v <- v_reset right after the spike "
    "in the same step is exactly the update above",
]
NORSE_CUBA_FIELDS = NORSE_FIELDS + [
    "nir.CubaLIF: tau_syn = 1/tau_syn_inv, tau_mem = 1/tau_mem_inv, r = 1, w_in = 1 (not "
    "written, nir's default)",
    "the membrane update is Euler of CubaLIF with the current after this step's input; the "
    "current is not: Norse adds the input to i whole (in NIR terms w_in = tau_syn/dt, as "
    "snnTorch writes it), whereas a literal Euler reading of w_in = 1 scales the input by "
    "dt/tau_syn (0.2 here)",
]
NORSE_LI_FIELDS = NORSE_FIELDS[:2] + [
    "nir.LI: tau = 1/tau_mem_inv, r = 1, v_leak copied; Euler of tau dv/dt = (v_leak - v) + r*I "
    "is exactly the update above",
]


def spikes(rng, shape, p=0.3):
    return (rng.random((T, BATCH) + tuple(shape)) < p).astype(np.float32)


@dataclass
class Spec:
    """One fixture: how to build, run and export the model, and what the index says of it."""

    producer: str
    name: str
    description: str
    builder: object  # () -> (nir graph, {npz key: array})
    dt: float
    neurons: dict  # NIR node -> {"rule": ..., "reset": ...}
    recorded: dict  # npz key -> [NIR node, quantity]
    fields: list
    export_call: str
    seed: int = 0
    recurrent_t0: str = "zero"
    notes: list = field(default_factory=list)
    reproducible_from_nir: bool = True
    type_check: bool = True

    def build_and_run(self):
        return self.builder()

    def index_entry(self):
        update = {node: [H_NOTE] + RULE_TEXT[(s["rule"], s.get("reset"))]
                  for node, s in self.neurons.items()}
        return {
            "id": f"{self.producer}/{self.name}", "producer": self.producer,
            "producer_version": {"snntorch": "1.0.0", "norse": "1.1.0"}[self.producer],
            "model": self.name, "file": f"{self.producer}/{self.name}.nir",
            "data": f"{self.producer}/{self.name}.npz", "description": self.description,
            "export_call": self.export_call, "dt": self.dt,
            "reset": {n: s.get("reset") for n, s in self.neurons.items()},
            "input_node": "input", "output_node": "output", "neurons": self.neurons,
            "recurrent_t0": self.recurrent_t0, "recorded": self.recorded, "update": update,
            "nir_fields": self.fields, "notes": self.notes,
            "reproducible_from_nir": self.reproducible_from_nir, "type_check": self.type_check,
            "steps": T, "batch": BATCH,
        }


# --- snnTorch ---------------------------------------------------------------------------------


def _run_snntorch(net, x, probes):
    """Step an snnTorch Sequential (init_hidden=True layers) over x [T, B, ...]; record each
    probed layer's spikes and state after every step."""
    import snntorch.utils

    snntorch.utils.reset(net)
    rec = {f"{key}.{q}": [] for key, (_, qs) in probes.items() for q in qs}
    captured = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=key: captured.__setitem__(k, o))
             for key, (m, _) in probes.items()]
    with torch.no_grad():
        for xt in torch.as_tensor(x):
            net(xt)
            for key, (m, qs) in probes.items():
                for q in qs:
                    val = captured[key] if q == "spikes" else getattr(m, {"v": "mem"}.get(q, q))
                    rec[f"{key}.{q}"].append(val.detach().clone().numpy())
    for h in hooks:
        h.remove()
    return {k: np.stack(v) for k, v in rec.items()}


def _snntorch_export(net, x):
    from snntorch.export_nir import export_to_nir

    return export_to_nir(net, torch.as_tensor(x[0]), ignore_dims=[0])


def _betas(n, lo=0.8, hi=0.95):
    return torch.linspace(lo, hi, n)


def _snntorch_dense(layer_factory, seed, gain=2.0, bias=0.1):
    def build():
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        lin = torch.nn.Linear(8, 6)
        with torch.no_grad():
            lin.weight.mul_(gain)
            lin.bias.fill_(bias)
        layer = layer_factory()
        net = torch.nn.Sequential(lin, layer)
        x = spikes(rng, (8,))
        quantities = ("spikes", "v", "syn") if hasattr(layer, "syn") else ("spikes", "v")
        rec = _run_snntorch(net, x, {"out": (layer, quantities)})
        graph = _snntorch_export(net, x)
        return graph, {"input": x, **_rename(rec, "out.", "")}
    return build


def _rename(rec, old, new):
    return {k.replace(old, new, 1): v for k, v in rec.items()}


def _snn():
    import snntorch as snn

    return snn


def snntorch_specs():
    snn = _snn()
    thr = torch.ones(6)
    specs = []
    for reset in ("subtract", "zero"):
        tag = "" if reset == "subtract" else "_zero"
        specs.append(Spec(
            "snntorch", f"leaky{tag}",
            f"Linear(8, 6) -> snn.Leaky(beta = linspace(0.8, 0.95, 6), threshold = ones(6), "
            f"reset_mechanism = {reset!r}, reset_delay = True, init_hidden = True)",
            _snntorch_dense(lambda r=reset: snn.Leaky(beta=_betas(6), threshold=thr,
                                                      reset_mechanism=r, init_hidden=True),
                            seed=1),
            SNNTORCH_DT, {"1": {"rule": "snntorch.Leaky", "reset": reset}},
            {"spikes": ["1", "spikes"], "v": ["1", "v"]},
            SNNTORCH_LIF_FIELDS + [SNNTORCH_RESET_FIELDS[reset]],
            "snntorch.export_to_nir(net, x[0], ignore_dims=[0])"))
        specs.append(Spec(
            "snntorch", f"rleaky{tag}",
            f"Linear(8, 6) -> snn.RLeaky(beta = linspace(0.8, 0.95, 6), threshold = ones(6), "
            f"linear_features = 6 (recurrent nn.Linear with bias), reset_mechanism = {reset!r},"
            " init_hidden = True)",
            _snntorch_dense(lambda r=reset: snn.RLeaky(beta=_betas(6), threshold=thr,
                                                       linear_features=6, reset_mechanism=r,
                                                       init_hidden=True), seed=2),
            SNNTORCH_DT, {"1.lif": {"rule": "snntorch.RLeaky", "reset": reset}},
            {"spikes": ["1.lif", "spikes"], "v": ["1.lif", "v"]},
            SNNTORCH_LIF_FIELDS + SNNTORCH_RECURRENT_FIELDS + [SNNTORCH_RESET_FIELDS[reset]],
            "snntorch.export_to_nir(net, x[0], ignore_dims=[0])", recurrent_t0="bias"))
        specs.append(Spec(
            "snntorch", f"synaptic{tag}",
            f"Linear(8, 6) -> snn.Synaptic(alpha = linspace(0.5, 0.8, 6), beta = "
            f"linspace(0.8, 0.95, 6), threshold = ones(6), reset_mechanism = {reset!r}, "
            "init_hidden = True)",
            _snntorch_dense(lambda r=reset: snn.Synaptic(
                alpha=torch.linspace(0.5, 0.8, 6), beta=_betas(6), threshold=thr,
                reset_mechanism=r, init_hidden=True), seed=3, gain=1.0, bias=0.0),
            SNNTORCH_DT, {"1": {"rule": "snntorch.Synaptic", "reset": reset}},
            {"spikes": ["1", "spikes"], "v": ["1", "v"]},
            SNNTORCH_CUBA_FIELDS + [SNNTORCH_RESET_FIELDS[reset]],
            "snntorch.export_to_nir(net, x[0], ignore_dims=[0])"))
    specs.append(Spec(
        "snntorch", "rsynaptic_zero",
        "Linear(8, 6) -> snn.RSynaptic(alpha = linspace(0.5, 0.8, 6), beta = linspace(0.8, "
        "0.95, 6), threshold = ones(6), linear_features = 6, reset_mechanism = 'zero', "
        "init_hidden = True) (the layer type of the NIR paper's Braille network)",
        _snntorch_dense(lambda: snn.RSynaptic(
            alpha=torch.linspace(0.5, 0.8, 6), beta=_betas(6), threshold=thr,
            linear_features=6, reset_mechanism="zero", init_hidden=True),
            seed=4, gain=1.0, bias=0.0),
        SNNTORCH_DT, {"1.lif": {"rule": "snntorch.RSynaptic", "reset": "zero"}},
        {"spikes": ["1.lif", "spikes"], "v": ["1.lif", "v"]},
        SNNTORCH_CUBA_FIELDS + SNNTORCH_RECURRENT_FIELDS + [SNNTORCH_RESET_FIELDS["zero"]],
        "snntorch.export_to_nir(net, x[0], ignore_dims=[0])", recurrent_t0="bias"))
    specs.append(snntorch_conv_spec())
    return specs


def snntorch_conv_spec():
    snn = _snn()

    def build():
        torch.manual_seed(5)
        rng = np.random.default_rng(5)
        conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        lif1 = snn.Leaky(beta=_betas(4, 0.85, 0.95)[:, None, None].expand(4, 8, 8).clone(),
                         threshold=torch.ones(4, 8, 8), init_hidden=True)
        lin = torch.nn.Linear(64, 5)
        with torch.no_grad():
            conv.weight.mul_(2.0)
            lin.weight.mul_(4.0)
        lif2 = snn.Leaky(beta=_betas(5), threshold=torch.ones(5), init_hidden=True)
        net = torch.nn.Sequential(conv, lif1, torch.nn.AvgPool2d(2), torch.nn.Flatten(), lin,
                                  lif2)
        x = spikes(rng, (1, 8, 8))
        rec = _run_snntorch(net, x, {"out": (lif2, ("spikes", "v")),
                                     "hidden.1": (lif1, ("spikes",))})
        return _snntorch_export(net, x), {"input": x, **_rename(rec, "out.", "")}

    return Spec(
        "snntorch", "conv",
        "Conv2d(1, 4, 3, padding=1) -> snn.Leaky(beta per channel 0.85..0.95 as a [4, 8, 8] "
        "tensor, threshold = ones) -> AvgPool2d(2) -> Flatten() -> Linear(64, 5) -> "
        "snn.Leaky(beta = linspace(0.8, 0.95, 5), threshold = ones(5)); reset 'subtract' "
        "(snnTorch's default); input 1 x 8 x 8 spikes",
        build, SNNTORCH_DT,
        {"1": {"rule": "snntorch.Leaky", "reset": "subtract"},
         "5": {"rule": "snntorch.Leaky", "reset": "subtract"}},
        {"spikes": ["5", "spikes"], "v": ["5", "v"], "hidden.1.spikes": ["1", "spikes"]},
        SNNTORCH_LIF_FIELDS + [SNNTORCH_RESET_FIELDS["subtract"],
                               "nn.Flatten() (start_dim 1 with batch) is written as nir.Flatten"
                               " start_dim = 0 (batch-free); AvgPool2d stride = kernel_size"],
        "snntorch.export_to_nir(net, x[0], ignore_dims=[0])")


# --- Norse ------------------------------------------------------------------------------------


def _run_norse(model, x, probes):
    """Step a Norse SequentialState over x [T, B, ...]; probes: {key: module}, recording the
    module's output (spikes, or v for LIBoxCell) and its state's v."""
    rec = {f"{k}.{q}": [] for k in probes for q in ("out", "v")}
    captured = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=key: captured.__setitem__(k, o))
             for key, m in probes.items()]
    state = None
    with torch.no_grad():
        for xt in torch.as_tensor(x):
            _, state = model(xt, state)
            for key in probes:
                out, st = captured[key]
                rec[f"{key}.out"].append(out.detach().clone().numpy())
                rec[f"{key}.v"].append(st.v.detach().clone().numpy())
    for h in hooks:
        h.remove()
    return {k: np.stack(v) for k, v in rec.items()}


def _norse_export(model, x, dt=1.0):
    import norse.torch

    # one unbatched sample: to_nir has no ignore_dims, and a batched sample writes an Input
    # type with the batch in it, which nir.read's type check then refuses
    return norse.torch.to_nir(model, torch.as_tensor(x[0, 0]), dt=dt)


def _vec(lo, hi, shape):
    n = int(np.prod(shape))
    return torch.linspace(lo, hi, n).reshape(shape)


def _lifbox_params(shape, v_leak=0.0):
    import norse.torch as norse

    return norse.LIFBoxParameters(tau_mem_inv=_vec(50.0, 150.0, shape),
                                  v_th=_vec(0.8, 1.2, shape),
                                  v_leak=torch.full(shape, v_leak),
                                  v_reset=torch.zeros(shape))


def _lif_params(shape, scalar_leak=False):
    import norse.torch as norse

    # LIFRecurrentCell's initial state is torch.full(dims, v_leak): it takes a scalar v_leak only
    v_leak = torch.tensor(0.0) if scalar_leak else torch.zeros(shape)
    return norse.LIFParameters(tau_syn_inv=_vec(150.0, 250.0, shape),
                               tau_mem_inv=_vec(50.0, 150.0, shape),
                               v_th=_vec(0.8, 1.2, shape), v_leak=v_leak,
                               v_reset=torch.zeros(shape))


def _norse_dense(make_cell, seed, gain, export_dt=1.0):
    import norse.torch as norse

    def build():
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        lin = torch.nn.Linear(8, 6)
        with torch.no_grad():
            lin.weight.mul_(gain)
        cell = make_cell()
        model = norse.SequentialState(lin, cell)
        x = spikes(rng, (8,))
        rec = _run_norse(model, x, {"out": cell})
        return _norse_export(model, x, export_dt), {
            "input": x, "spikes": rec["out.out"], "v": rec["out.v"]}
    return build


def norse_specs():
    import norse.torch as norse

    lif_box = _norse_dense(lambda: norse.LIFBoxCell(_lifbox_params((6,), 0.1), dt=NORSE_DT),
                           seed=11, gain=10.0)
    lif_box_desc = ("Linear(8, 6) -> LIFBoxCell(tau_mem_inv = linspace(50, 150, 6), v_th = "
                    "linspace(0.8, 1.2, 6), v_leak = 0.1, v_reset = 0, dt = 1e-3)")
    box_neurons = {"1": {"rule": "norse.LIFBoxCell", "reset": "zero"}}
    out_rec = {"spikes": ["1", "spikes"], "v": ["1", "v"]}
    return [
        Spec("norse", "lif_box", lif_box_desc, lif_box, NORSE_DT, box_neurons, out_rec,
             NORSE_LIF_FIELDS, "norse.torch.to_nir(model, x[0, 0], dt=1.0)", seed=11),
        Spec("norse", "lif_box_to_nir_default_dt", lif_box_desc + "; the same model and "
             "recording as lif_box, exported with to_nir's default dt = 1e-3",
             _norse_dense(lambda: norse.LIFBoxCell(_lifbox_params((6,), 0.1), dt=NORSE_DT),
                          seed=11, gain=10.0, export_dt=NORSE_DT),
             NORSE_DT, box_neurons, out_rec, NORSE_LIF_FIELDS,
             "norse.torch.to_nir(model, x[0, 0])  (default dt = 1e-3)", seed=11,
             notes=["tau in this file is dt*tau = 1e-3/tau_mem_inv (Norse #411): a literal "
                    "reading at dt = 1e-3 has dt/tau = 1000*tau_mem_inv*dt >> 1 and does not "
                    "reproduce the spikes; tau here = 1e-3 * tau of lif_box.nir"],
             reproducible_from_nir=False),
        Spec("norse", "lif",
             "Linear(8, 6) -> LIFCell(tau_syn_inv = linspace(150, 250, 6), tau_mem_inv = "
             "linspace(50, 150, 6), v_th = linspace(0.8, 1.2, 6), v_leak = 0, v_reset = 0, "
             "dt = 1e-3)",
             _norse_dense(lambda: norse.LIFCell(_lif_params((6,)), dt=NORSE_DT), seed=12,
                          gain=2.0),
             NORSE_DT, {"1": {"rule": "norse.LIFCell", "reset": "zero"}}, out_rec,
             NORSE_CUBA_FIELDS, "norse.torch.to_nir(model, x[0, 0], dt=1.0)", seed=12),
        norse_li_spec(), norse_recurrent_spec(), norse_conv_spec(),
    ]


def norse_li_spec():
    import norse.torch as norse

    def build():
        torch.manual_seed(13)
        rng = np.random.default_rng(13)
        lin1, lin2 = torch.nn.Linear(8, 6), torch.nn.Linear(6, 3)
        with torch.no_grad():
            lin1.weight.mul_(10.0)
        lif = norse.LIFBoxCell(_lifbox_params((6,)), dt=NORSE_DT)
        li = norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=_vec(50.0, 150.0, (3,)),
                                                   v_leak=_vec(-0.1, 0.1, (3,))), dt=NORSE_DT)
        model = norse.SequentialState(lin1, lif, lin2, li)
        x = spikes(rng, (8,))
        rec = _run_norse(model, x, {"out": li, "hidden": lif})
        return _norse_export(model, x), {"input": x, "v": rec["out.v"],
                                         "hidden.1.spikes": rec["hidden.out"]}

    return Spec(
        "norse", "li_box",
        "Linear(8, 6) -> LIFBoxCell(tau_mem_inv = linspace(50, 150, 6), v_th = linspace(0.8, "
        "1.2, 6), dt = 1e-3) -> Linear(6, 3) -> LIBoxCell(tau_mem_inv = linspace(50, 150, 3), "
        "v_leak = linspace(-0.1, 0.1, 3), dt = 1e-3): a spiking layer and a leaky-integrator "
        "readout (output v, no spikes)",
        build, NORSE_DT,
        {"1": {"rule": "norse.LIFBoxCell", "reset": "zero"}, "3": {"rule": "norse.LIBoxCell"}},
        {"v": ["3", "v"], "hidden.1.spikes": ["1", "spikes"]},
        NORSE_LIF_FIELDS + NORSE_LI_FIELDS[2:],
        "norse.torch.to_nir(model, x[0, 0], dt=1.0)", seed=13,
        notes=["Norse 1.1's to_nir maps LIBoxCell only; LICell (current-based) and "
               "LILinearCell are not mapped (to_nir fails)"])


def norse_recurrent_spec():
    import norse.torch as norse

    def build():
        torch.manual_seed(14)
        rng = np.random.default_rng(14)
        cell = norse.LIFRecurrentCell(8, 6, _lif_params((6,), scalar_leak=True),
                                      autapses=False, dt=NORSE_DT)
        with torch.no_grad():
            cell.input_weights.mul_(1.5)
        x = spikes(rng, (8,))
        rec = _run_recurrent(cell, x)
        return _recurrent_graph(cell), {"input": x, **rec}

    return Spec(
        "norse", "lif_recurrent",
        "LIFRecurrentCell(8, 6, tau_syn_inv = linspace(150, 250, 6), tau_mem_inv = "
        "linspace(50, 150, 6), v_th = linspace(0.8, 1.2, 6), autapses = False, dt = 1e-3), "
        "v_leak = 0 (a scalar: its initial state takes no tensor), input weights x1.5",
        build, NORSE_DT, {"lif": {"rule": "norse.LIFRecurrentCell", "reset": "zero"}},
        {"spikes": ["lif", "spikes"], "v": ["lif", "v"]}, NORSE_CUBA_FIELDS,
        "hand-built: Norse 1.1's to_nir cannot export LIFRecurrentCell (an empty graph error "
        "alone, a TypeError after a Linear); the graph is what to_nir writes for its parts",
        seed=14,
        notes=["nodes: w_in = nir.Affine(input_weights, 0), lif = nir.CubaLIF as to_nir(dt=1.0) "
               "writes a LIFCell, w_rec = nir.Affine(recurrent_weights, 0); edges input -> w_in "
               "-> lif -> w_rec -> lif (a cycle, read one step late), lif -> output; the same "
               "flat form as the NIR paper's Braille graphs"])


def _run_recurrent(cell, x):
    state, zs, vs = None, [], []
    with torch.no_grad():
        for xt in torch.as_tensor(x):
            z, state = cell(xt, state)
            zs.append(z.clone().numpy())
            vs.append(state.v.clone().numpy())
    return {"spikes": np.stack(zs), "v": np.stack(vs)}


def _recurrent_graph(cell):
    p = cell.p
    n = int(cell.hidden_size)

    def arr(t):
        return np.asarray(torch.as_tensor(t).detach().numpy(), dtype=np.float32)

    v_leak = np.broadcast_to(arr(p.v_leak), (n,)).copy()  # the cell holds a scalar
    nodes = {
        "input": nir.Input(input_type={"input": np.array([int(cell.input_size)])}),
        "w_in": nir.Affine(weight=arr(cell.input_weights), bias=np.zeros(n, np.float32)),
        "lif": nir.CubaLIF(tau_syn=1.0 / arr(p.tau_syn_inv), tau_mem=1.0 / arr(p.tau_mem_inv),
                           r=np.ones(n, np.float32), v_leak=v_leak,
                           v_threshold=arr(p.v_th)),
        "w_rec": nir.Affine(weight=arr(cell.recurrent_weights), bias=np.zeros(n, np.float32)),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
             ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def norse_conv_spec(seed=24):
    import norse.torch as norse

    def build():
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        conv2 = torch.nn.Conv2d(4, 3, 4, stride=4)
        with torch.no_grad():
            conv1.weight.mul_(4.0)
            conv2.weight.mul_(12.0)
            conv2.bias.fill_(0.5)
        lif1 = norse.LIFCell(_lif_params((4, 8, 8)), dt=NORSE_DT)
        lif2 = norse.LIFBoxCell(_lifbox_params((3, 2, 2)), dt=NORSE_DT)
        model = norse.SequentialState(conv1, lif1, conv2, lif2)
        x = spikes(rng, (1, 8, 8))
        rec = _run_norse(model, x, {"out": lif2, "hidden": lif1})
        graph = _norse_export(model, x)
        # to_nir leaves Conv2d.input_shape None, which nir.write cannot store; snnTorch's
        # exporter fills it with infer_types(), and so does this
        graph.infer_types()
        return graph, {"input": x, "spikes": rec["out.out"],
                                         "v": rec["out.v"], "hidden.1.spikes": rec["hidden.out"]}

    return Spec(
        "norse", "conv",
        "Conv2d(1, 4, 3, padding=1) -> LIFCell(parameters as [4, 8, 8] tensors) -> "
        "Conv2d(4, 3, 4, stride=4) -> LIFBoxCell(parameters as [3, 2, 2] tensors), dt = 1e-3; "
        "input 1 x 8 x 8 spikes; output 3 x 2 x 2",
        build, NORSE_DT,
        {"1": {"rule": "norse.LIFCell", "reset": "zero"},
         "3": {"rule": "norse.LIFBoxCell", "reset": "zero"}},
        {"spikes": ["3", "spikes"], "v": ["3", "v"], "hidden.1.spikes": ["1", "spikes"]},
        NORSE_CUBA_FIELDS + NORSE_LIF_FIELDS[3:],
        "norse.torch.to_nir(model, x[0, 0], dt=1.0)", seed=seed,
        notes=["to_nir leaves Conv2d.input_shape = None and nir.write then fails; the graph "
               "was completed with graph.infer_types() before writing (nothing else changed)",
               "Norse 1.1's to_nir maps no pooling and no Flatten (nn.AvgPool2d, nn.Flatten "
               "give a None node and to_nir fails), so this conv net has none",
               "neuron parameters must be full-size tensors: scalars are written as 0-d "
               "arrays, which nir.write (gzip) refuses"])


def all_specs():
    return snntorch_specs() + norse_specs()
