"""The differentiable rate runtime: steady-state evaluation with one reverse rule per
op kind (vjp.py), the model over a program (model.py), the Simulator backend and the
training loop (training.py)."""
