"""Issue 16 review, files and packaging: bad files named with what to run instead (item 7),
import without Numba (item 14), a repository that stands alone (item 15), and bad
documents and command lines (each message names the file or object, the value and a fix)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


# ------------------------------------------------------------------ item 14: no numba on import
def test_import_and_save_do_not_import_numba(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import snngraph as sg
        assert "numba" not in sys.modules, "import snngraph imported numba"
        with sg.Network(seed=0) as net:
            stim = sg.Node([0.5])
            ens = sg.Ensemble(10, 1, neuron_type=sg.Leaky(0.9))
            sg.Connection(stim, ens)
            sg.Probe(ens)
        sg.save(net, {str(tmp_path / "net.json")!r})
        sg.load({str(tmp_path / "net.json")!r})
        sg.summary(net)
        sg.optim.Adam(0.01), sg.surrogates.ATan()(0.1)
        assert "numba" not in sys.modules, "describing or saving a network imported numba"
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
