"""Data contracts: shared field types, the description document and its JSON Schema.

This package imports only pydantic and numpy; the object model in
``snngraph`` builds on it, never the other way round (``export`` is the one tool module
allowed to import upward).
"""
