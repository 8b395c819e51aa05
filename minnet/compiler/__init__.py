"""The compiled training step: a traced forward, backward and update replayed as
straight-line numpy (``compile_step``).  Teaching tools stay on the eager graph."""

from minnet.compiler.step import CompiledStep, compile_step, eager_step

__all__ = ["compile_step", "CompiledStep", "eager_step"]
