"""Draw DOT source to SVG/PNG/PDF with whichever Graphviz program this machine has.

A system Graphviz ``dot`` comes first (it draws every format).  Without one,
``graphviz-pure`` (a self-contained port of ``dot`` that ``pip install "minnet[graph]"``
brings) draws SVG and PNG, so pictures need nothing beyond pip.  With neither, the
DOT source is written instead, with a one-line hint: a missing Graphviz never breaks
a script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from minnet.autograd.tensor import Tensor
from minnet.graph.dot import to_dot

__all__ = ["render", "draw", "graphviz_program", "Writer"]

# How a file's bytes reach the disk: ``Path.write_bytes`` by default; the command line
# passes minnet.train's atomic writer, so a full disk never leaves half a picture.
Writer = Callable[[Path, bytes], object]


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)

_FORMATS = ("svg", "png", "pdf")
# Each program and the formats it draws, preferred first.
_PROGRAMS = (("dot", _FORMATS), ("graphviz-pure", ("svg", "png")))


def graphviz_program(fmt: str) -> str | None:
    """The path of a program that draws ``fmt``, or None.

    Looks on PATH and beside the running interpreter (a virtualenv's scripts folder
    is often not on PATH when its python is run directly).
    """
    for name, formats in _PROGRAMS:
        if fmt in formats:
            found = shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts"))
            if found:
                return found
    return None


def draw(source: str, fmt: str) -> bytes | None:
    """DOT ``source`` drawn as ``fmt`` bytes, or None when no program can draw it."""
    program = graphviz_program(fmt)
    if program is None:
        return None
    result = subprocess.run([program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"render: {Path(program).name} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def render(graph: Tensor | str, path: str | os.PathLike, write: Writer = _write_bytes) -> Path:
    """Draw ``graph`` (a tensor or DOT source) to ``path`` and return the file written.

    ``path`` ends in .svg, .png or .pdf (drawn by Graphviz) or .dot (the source).
    Without a program that draws the format, the source is written next to ``path``
    with a .dot suffix and one line on stderr says how to draw it.  Missing folders
    are created.  ``write(path, data)`` puts the bytes on disk.
    """
    source = graph if isinstance(graph, str) else to_dot(graph)
    path = Path(path)
    fmt = path.suffix[1:].lower()
    if fmt not in _FORMATS and fmt != "dot":
        raise ValueError(f"render: cannot write {path.name!r}; use a .svg, .png, .pdf or .dot path")
    path.parent.mkdir(parents=True, exist_ok=True)
    drawn = None if fmt == "dot" else draw(source, fmt)
    if drawn is not None:
        write(path, drawn)
        return path
    dot_path = path.with_suffix(".dot")
    write(dot_path, source.encode("utf-8"))
    if fmt != "dot":
        sys.stdout.flush()  # so the hint never lands inside a half-printed line
        install = 'pip install "minnet[graph]"' if fmt != "pdf" else "install Graphviz, e.g. apt-get install graphviz"
        print(f"render: no Graphviz program draws .{fmt} here ({install}); wrote {dot_path}; "
              f"draw it with `dot -T{fmt} {dot_path} -o {path}`", file=sys.stderr, flush=True)
    return dot_path
