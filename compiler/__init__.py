"""Lowering of snngraph networks to the IR, and the passes over it (DESIGN.md 3.3).

Filled in by the compiler issue; the package exists now so that the install layout
(``snngraph.compiler``) is fixed from the start.
"""
