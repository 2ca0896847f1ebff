"""``snngraph view``: one self-contained HTML page of a compiled network.

The page shows the IR after every pass and what each pass changed, every op with its
shape, attributes and the user's ``file:line``, and on the Loihi target the core map,
each core's use of every limit, the quantisation report and the energy estimate; with
a data file (and a parameters file), the measured rates of each layer next to the rate
network's. ``data.py`` decides the content (a JSON-ready dict), ``page.py`` puts it in
the template (``template.html``, ``view.css``, ``view.js``), ``measure.py`` runs the data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from snngraph.view.measure import Measured, ViewError

__all__ = ["Measured", "ViewError", "measure_rates", "view"]


def view(source: Any, path: str | os.PathLike, *, target: str = "cpu", params: Any = None,
         data: Any = None, steps: int | None = None, examples: int | None = None,
         title: str | None = None, **compile_options: Any) -> Path:
    """Write the page for ``source`` (a Network, compiled here for ``target`` with
    ``compile_options``, or a Program) to ``path``.

    ``params``: a file written by ``sim.save_params`` (the page then shows the program
    compiled with those values); ``data``: an ``.npz`` with the input ``x``
    (``[examples, size]`` held for ``steps`` steps, default 30, or ``[examples, steps,
    size]``) or one array per input Node's label, and optionally ``n_steps``; the first
    ``examples`` (default 50) are run. Without ``data``, ``steps`` runs a network that
    makes its own input (Nengo's style) for that many steps. Every file is checked, and
    everything is measured, before the page is written: a bad file raises ``ViewError``
    and leaves ``path`` untouched.
    """
    from snngraph import files
    from snngraph.view import data as page_data
    from snngraph.view import measure, page

    path = files.check_writable(path, "view")
    program, measured = measure.measure(source, target, params, data, steps,
                                        examples, **compile_options)
    return page.write(path, page_data.page_data(program, measured, title))


def measure_rates(source: Any, data: Any, *, target: str = "cpu", params: Any = None,
                  steps: int | None = None, examples: int | None = None,
                  **compile_options: Any) -> Measured:
    """Each layer's per-neuron firing rates on ``data`` (an array ``x``, a dict of
    arrays, or an ``.npz`` as for ``view``), in the spiking network and, for a Network,
    in its rate network: what the page's activity section and
    ``sg.plot.rate_agreement`` show."""
    from snngraph.view import measure

    _, measured = measure.measure(source, target, params, data, steps,
                                  examples, **compile_options)
    return measured
