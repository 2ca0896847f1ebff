"""Progress of long work: ``fit``'s minibatches, ``predict``/``evaluate``'s minibatches
and ``run_steps``'s steps.

On a terminal a tqdm bar redraws in place; it appears only once the work has taken
``DELAY`` seconds and is removed when done. When the output is not a terminal (a log
file, CI) nothing is redrawn: ``predict``, ``evaluate`` and ``run_steps`` write a start
line (once ``DELAY`` has passed) and an end line, and ``fit`` writes only its one line
per epoch (``lines=False`` here). ``Simulator(progress_bar=False)`` or ``verbose=0``
silences all of it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from snngraph.errors import ValidationError, short_repr

DELAY = 2.0
"""Seconds before a bar or a start line appears (short work prints nothing)."""

_PLURALS = {"minibatch": "minibatches"}


def plural(n: int, unit: str) -> str:
    """``"1 minibatch"``, ``"3 minibatches"``, ``"2 steps"``."""
    word = unit if n == 1 else _PLURALS.get(unit, unit + "s")
    return f"{n} {word}"


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """``update(k)`` after each unit of work, ``close()`` at the end.

    ``what`` names the work in lines and the bar (``"predict"``, ``"epoch 2/5"``);
    ``detail`` adds to the start line (``"200 examples"``). ``lines``: write the start
    and end lines when not on a terminal; ``terminal``: force the bar (True) or the lines
    (False) instead of asking the stream.
    """

    def __init__(self, total: int, unit: str, what: str, detail: str = "",
                 lines: bool = True, terminal: bool | None = None,
                 stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.unit, self.what, self.detail = total, unit, what, detail
        self.n, self.start, self.started = 0, time.perf_counter(), False
        self.lines, self.bar, self.closed = lines, None, False
        tty = is_terminal(self.stream) if terminal is None else terminal
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=what, delay=DELAY, leave=False,
                            file=self.stream)
        elif DELAY <= 0:
            self._start_line()

    def update(self, k: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(k)
            return
        self.n += k
        if not self.started and time.perf_counter() - self.start >= DELAY:
            self._start_line()

    def _start_line(self) -> None:
        self.started = True
        if self.lines:
            detail = f" ({self.detail})" if self.detail else ""
            self._write(f"{self.what}: {plural(self.total, self.unit)}{detail}, started")

    def close(self) -> None:
        """The end line (once: a backend may close the bar it was given too)."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.started and self.lines:
            seconds = time.perf_counter() - self.start
            self._write(f"{self.what}: done, {plural(self.n, self.unit)} in {seconds:.1f} s")

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def check_verbose(verbose: Any, where: str) -> int:
    """Keras's ``verbose``: 0 silent, 1 bar (or lines off a terminal), 2 lines only;
    ``"auto"`` is 1."""
    if isinstance(verbose, bool):
        return int(verbose)
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if not isinstance(verbose, int) or verbose not in (0, 1, 2):
        raise ValidationError(f"{where}.verbose: expected 0, 1 or 2 (or 'auto') (got "
                              f"{short_repr(verbose)})\n  fix: verbose=0 for silence, 1 for "
                              "a progress bar, 2 for one line per epoch",
                              obj="Simulator", field="verbose", value=verbose)
    return int(verbose)
