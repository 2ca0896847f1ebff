"""Runtimes that execute a compiled Program: numba, loihi (emulator), rate, and training
through time (bptt), all behind one ``Simulator`` (docs/architecture.md)."""
