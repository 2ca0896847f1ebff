"""Lowering of snngraph networks to the IR, and the passes over it (``lower.py``,
``passes/``, the pass manager in ``pipeline.py``; docs/architecture.md describes each)."""
