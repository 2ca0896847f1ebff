"""NIR fixtures from snnTorch 1.0.0 and Norse 1.1.0, and the peers' importers as a check.

Runs with the peers' python (``bash benchmarks/peers/setup_nir_peers.sh`` makes /tmp/peers);
torch is never a dependency of snngraph.

    /tmp/peers/bin/python benchmarks/peers/nir_fixtures.py record [--out tests/data/nir]
    /tmp/peers/bin/python benchmarks/peers/nir_fixtures.py check DIR [DIR ...]

``record`` builds the small models in ``models.py`` (fixed seeds), runs each in its own
library step by step on a fixed input (batch 2), exports it with the library's own exporter
(``snntorch.export_to_nir`` / ``norse.torch.to_nir``) and writes
``<out>/<producer>/<model>.nir`` and ``.npz`` plus the index ``<out>/fixtures.json`` (the
contract is in tests/data/nir/README.md). Before writing, every fixture is re-run from its NIR
file with the numpy reference in tests/nir_reference.py; a fixture whose spikes that does not
reproduce, or that lies within 1e-5 of a threshold, is refused.

``check`` takes directories of ``<name>.nir`` + ``<name>.npz`` (``input`` [T, B, ...],
``spikes`` [T, B, ...], ``dt``), imports every graph with ``snntorch.import_from_nir`` and
``norse.torch.from_nir``, runs both step by step on the input and prints a table of how many
spikes differ. It is meant for graphs exported by snngraph; run on the recorded fixtures it
is the peer export -> peer import round trip.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nir
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

import nir_fixture_models as models  # noqa: E402
import nir_reference  # noqa: E402  (tests/nir_reference.py: numpy + nir only)

MIN_MARGIN = 1e-5


def versions():
    import nirtorch
    import norse
    import snntorch.utils

    return {"torch": torch.__version__, "snntorch": snntorch.__version__,
            "norse": norse.__version__, "nir": nir.__version__,
            "nirtorch": nirtorch.__version__, "numpy": np.__version__}


# --- record -----------------------------------------------------------------------------------


def write_fixture(spec, out_dir):
    """Export, record, check against the numpy reference and write one fixture."""
    torch.manual_seed(spec.seed)
    graph, recorded = spec.build_and_run()
    graph.edges = sorted(tuple(e) for e in graph.edges)  # set order otherwise; no meaning
    folder = out_dir / spec.producer
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}.nir"
    nir.write(path, graph, compression=None)  # half the size of gzip at these sizes
    entry = spec.index_entry()
    read_back = nir.read(path, type_check=entry["type_check"])
    entry["threshold_margin"] = check_against_reference(spec, read_back, recorded, entry)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in recorded.items()}
    np.savez_compressed(folder / f"{spec.name}.npz", dt=np.float64(spec.dt), **arrays)
    entry["spike_counts"] = {k: int(v.sum()) for k, v in arrays.items() if k.endswith("spikes")}
    entry["shapes"] = {k: list(v.shape) for k, v in arrays.items()}
    return entry


def check_against_reference(spec, graph, recorded, entry):
    """Re-run the written graph with the documented per-step rules; refuse the fixture if its
    spikes differ or a neuron came within MIN_MARGIN of its threshold."""
    if not entry["reproducible_from_nir"]:
        return None
    ref = nir_reference.run(graph, recorded["input"], entry["dt"], entry["neurons"],
                            entry["recurrent_t0"])
    margins = []
    for key, (node, quantity) in entry["recorded"].items():
        got = ref[node][quantity]
        want = recorded[key]
        if quantity == "spikes" and not np.array_equal(got, want):
            raise SystemExit(f"{spec.producer}/{spec.name}: the reference gives "
                             f"{int((got != want).sum())} different spikes for {key!r}")
        if quantity == "v" and not np.allclose(got, want, rtol=1e-5, atol=1e-5):
            raise SystemExit(f"{spec.producer}/{spec.name}: {key!r} differs by "
                             f"{np.abs(got - want).max():.3g}")
    for node in entry["neurons"]:
        if "v_pre" in ref[node]:
            margins.append(nir_reference.threshold_margin(ref[node]))
    margin = min(margins) if margins else None
    if margin is not None and margin < MIN_MARGIN:
        raise SystemExit(f"{spec.producer}/{spec.name}: a membrane came within {margin:.2g} "
                         "of its threshold; change the seed")
    return margin


def record(out_dir):
    torch.set_num_threads(1)
    index = {"versions": versions(), "contract": "tests/data/nir/README.md", "fixtures": []}
    for spec in models.all_specs():
        entry = write_fixture(spec, out_dir)
        index["fixtures"].append(entry)
        print(f"{entry['id']:34s} dt={entry['dt']:<8g} margin={entry['threshold_margin']} "
              f"spikes={entry['spike_counts']}")
    (out_dir / "fixtures.json").write_text(json.dumps(index, indent=1) + "\n")


# --- check: the peers' importers ------------------------------------------------------------


def import_snntorch(graph, dt):
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    del dt  # snnTorch's importer hard-codes dt = 1e-4
    module = import_from_nir(graph)
    snntorch.utils.reset(module)
    return module


def import_norse(graph, dt):
    import norse.torch
    from norse.torch.functional import reset

    # Norse's importer takes the reset as an argument (used for CubaLIF only); a file written
    # by snngraph says which one it ran
    method = reset.reset_subtract if snngraph_meta(graph, "reset") == "subtract" else None
    return norse.torch.from_nir(graph, dt=dt, reset_method=method or reset.reset_value)


def snngraph_meta(graph, key):
    """graph.metadata["snngraph.<key>"] or graph.metadata["snngraph"][<key>] (None if absent)."""
    meta = graph.metadata or {}
    nested = meta.get("snngraph")
    return meta.get(f"snngraph.{key}", nested.get(key) if isinstance(nested, dict) else None)


IMPORTERS = {"snntorch": import_snntorch, "norse": import_norse}


def run_imported(module, inputs):
    """Step an imported GraphExecutor / GraphModule (both return (output, state))."""
    state, outs = None, []
    with torch.no_grad():
        for x in torch.as_tensor(inputs, dtype=torch.float32):
            out, state = module(x) if state is None else module(x, state)
            outs.append(out.detach().clone().numpy())
    return np.stack(outs)


def check_one(nir_path, importer):
    data = np.load(nir_path.with_suffix(".npz"))
    dt = float(data["dt"])
    try:
        graph = nir.read(nir_path)
    except Exception:  # a graph that fails type checks is still tried, as the peers would
        graph = nir.read(nir_path, type_check=False)
    try:
        got = run_imported(IMPORTERS[importer](graph, dt), data["input"])
    except Exception as exc:  # the table reports any importer failure and goes on
        return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:60]}"
    want = data["spikes"] if "spikes" in data else data["v"]
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != {list(want.shape)}"
    if "spikes" not in data:
        return f"max |v diff| {np.abs(got - want).max():.3g}"
    diff = int((got != want).sum())
    if diff == 0:
        return "same spikes"
    return f"{diff} of {want.size} differ ({int(want.sum())} spikes)"


def check(dirs, importers):
    torch.set_num_threads(1)
    files = sorted(p for d in dirs for p in Path(d).rglob("*.nir")
                   if p.with_suffix(".npz").exists())
    print("| graph | " + " | ".join(importers) + " |")
    print("|---|" + "---|" * len(importers))
    for path in files:
        cells = [check_one(path, imp) for imp in importers]
        print(f"| {path.parent.name}/{path.stem} | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="write the fixtures")
    rec.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "nir")
    chk = sub.add_parser("check", help="import .nir + .npz pairs in the peers and compare")
    chk.add_argument("dirs", nargs="+")
    chk.add_argument("--importers", nargs="+", default=list(IMPORTERS), choices=list(IMPORTERS))
    args = parser.parse_args(argv)
    if args.cmd == "record":
        record(args.out)
    else:
        check(args.dirs, args.importers)


if __name__ == "__main__":
    import logging
    import warnings

    logging.disable(logging.WARNING)  # Norse's importer logs each r != 1 it ignores
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    main()
