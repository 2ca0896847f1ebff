"""Runtimes that execute a compiled Program: numba, loihi (emulator) and rate (DESIGN.md 3.4).

Filled in by the runtime issues; the package exists now so that the install layout
(``snngraph.runtimes``) is fixed from the start.
"""
