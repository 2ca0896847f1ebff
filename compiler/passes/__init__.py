"""The passes: plain functions ``(ir, options) -> None`` that edit an IR, registered by
name in ``snngraph.compiler.pipeline``."""
