"""Training: the Simulator's API (``fit``, ``evaluate``, parameter files, ``freeze_params``)
and the one loop over minibatches that every training method shares.

- ``api.py``: the ``Training`` mixin of ``Simulator`` (``compile``, ``fit``, ``evaluate``,
  ``trainable_params``, ``save_params``, ``load_params``, ``freeze_params``).
- ``checks.py``: ``fit``'s argument checks, ``validation_split`` and message helpers.
- ``loop.py``: ``Trainer``, the loop (objectives, metrics, callbacks, checkpoints, the
  non-finite stop), and its ``FitOptions``.
- ``methods.py``: the model protocol (``TrainableModel``) and how a minibatch runs per
  method (``RateMethod``, ``BpttMethod``).
- ``results.py``: ``Objective``, ``score``, ``Totals``, ``History``, ``TrainingError``.
- ``params.py``: parameter files (every backend's).
- ``freeze.py``: trained arrays back into the network's objects.
"""

from snngraph.runtimes.training.api import Training
from snngraph.runtimes.training.loop import FitOptions, Trainer
from snngraph.runtimes.training.methods import BpttMethod, Method, RateMethod, TrainableModel
from snngraph.runtimes.training.results import History, Objective, Totals, TrainingError

__all__ = ["BpttMethod", "FitOptions", "History", "Method", "Objective", "RateMethod",
           "Totals", "Trainer", "TrainableModel", "Training", "TrainingError"]
