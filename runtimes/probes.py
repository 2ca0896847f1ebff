"""Probe results: ``ProbeIndex`` (each probe op's result key, and what else names it),
``ProbeResults`` (what ``predict`` returns) and ``ProbeData`` (``sim.data``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from snngraph.errors import ValidationError, closest, short_repr


class ProbeIndex:
    """A Simulator's probes: each probe op's one result key (the Probe object when the
    Simulator was built from a network; else the probe's label, or the op name without
    '%' when it has none or shares it) and what else finds it. Holds no arrays and no
    objects (ids only), so results stay light and picklable."""

    def __init__(self, sim: Any):
        probes = sim._probes
        self.keys: dict[str, Any] = {}
        self.ids = {i: n for i, n in sim.program.ir.objects.items() if n in probes}
        if sim.network is not None:
            for probe in sim.network.all_probes:
                if self.ids.get(id(probe)) in probes:
                    self.keys[self.ids[id(probe)]] = probe
        labels = [op.label for op in probes.values()]
        self.labels = {op.label: n for n, op in probes.items()
                       if op.label and labels.count(op.label) == 1}
        for name, op in probes.items():
            if name not in self.keys:
                key = op.label if op.label in self.labels else name[1:]
                self.keys[name] = key if key not in self.keys.values() else name
        self.loaded = sim.network is None  # a loaded Program knows its probes by label

    def op(self, key: Any) -> str | None:
        """The probe op named by a Probe object of the network (or, for a Simulator built
        from a Program, one carrying a probe's label), a label or an op name."""
        if isinstance(key, str):
            name = key if key.startswith("%") else f"%{key}"
            return name if name in self.keys else self.labels.get(key)
        if id(key) in self.ids:
            return self.ids[id(key)]
        label = getattr(key, "label", None)
        return self.labels.get(label) if self.loaded and type(key).__name__ == "Probe" \
            else None

    def shown(self) -> list[str]:
        """Each probe as a message shows it: its label, or its op name."""
        return [k if isinstance(k, str) else k.label or n[1:] for n, k in self.keys.items()]


class ProbeResults(dict):
    """What ``predict`` returns and ``sim.data`` holds: one entry per probe, keyed by the
    Probe object when the Simulator was built from a network and by the probe's label
    when it was built from a Program (a saved Program keeps its probes' labels). Either
    way an entry is also found by the probe's label, its op name (``"%out_p"``) or a
    Probe object carrying the label."""

    where = "sim.predict(...)"

    def __init__(self, by_name: dict[str, np.ndarray], index: ProbeIndex):
        super().__init__({index.keys[n]: v for n, v in by_name.items()})
        self._index = index

    def _key(self, key: Any) -> Any:
        try:
            if dict.__contains__(self, key):
                return key
        except TypeError:  # unhashable
            pass
        name = self._index.op(key)
        return self._index.keys.get(name, _MISSING) if name is not None else _MISSING

    def __getitem__(self, key: Any) -> np.ndarray:
        found = self._key(key)
        if found is _MISSING:
            names = self._index.shown()
            near = closest(key, names)
            fix = f"did you mean {near!r}?" if near else \
                "index with a Probe of the network or a probe's label"
            raise ValidationError(f"{self.where}: {short_repr(key)} is not a probe of this "
                                  f"simulator (probes: {', '.join(names) or 'none'})\n  fix: "
                                  f"{fix}", obj="Simulator", field="data", value=key)
        return super().__getitem__(found)

    def __contains__(self, key: Any) -> bool:
        return self._key(key) is not _MISSING

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default


class ProbeData(ProbeResults):
    """``sim.data``: the recorded steps of every probe (see ProbeResults)."""

    where = "sim.data"

    def __init__(self, sim: Any, by_name: dict[str, np.ndarray]):
        super().__init__(by_name, ProbeIndex(sim))


_MISSING = object()
