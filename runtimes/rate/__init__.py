"""The differentiable rate runtime: steady-state evaluation with one reverse rule per
op kind (vjp.py), the model over a program (model.py) and the Simulator backend
(backend.py). The training loop that drives the model is in runtimes/training/."""
