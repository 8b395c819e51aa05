"""Rendering the graph to pictures: a system Graphviz first, else the pip-installed one, else DOT.

Every test runs everywhere: the ``graph`` extra (in the ``test`` extra) brings the
``graphviz-pure`` program, and the system ``dot`` is hidden or faked where a test needs it.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from lecture import lecture_f

import minnet as mn
from minnet import graph
from minnet.graph import graphviz

ROOT = Path(__file__).resolve().parents[1]
LECTURE = ["backprop_f", "regularized_neuron", "wx_minus_x", "logdet_gradient", "trace_inverse_gradient"]


@pytest.fixture
def no_system_dot(tmp_path, monkeypatch):
    """A PATH with no Graphviz on it, as on a fresh machine (the venv's scripts stay findable)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


@pytest.fixture
def no_graphviz(monkeypatch):
    """No Graphviz program at all: neither a system dot nor the graph extra's."""
    monkeypatch.setattr(graphviz.shutil, "which", lambda *args, **kwargs: None)


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_render_draws_without_system_graphviz(tmp_path, no_system_dot, suffix, magic):
    assert Path(graphviz.graphviz_program(suffix[1:])).name == "graphviz-pure"
    path = graph.render(lecture_f(), tmp_path / "pics" / f"f{suffix}")
    assert path == tmp_path / "pics" / f"f{suffix}"
    content = path.read_bytes()
    assert magic in content[:400]
    if suffix == ".svg":
        assert b"m = x+y" in content and "∂f/∂m = 3".encode() in content and b"= 3\xc2\xb73 = 9" in content


def test_a_system_dot_is_preferred(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n/bin/cat >/dev/null\necho '<svg>system dot</svg>'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent))
    path = graph.render(lecture_f(), tmp_path / "f.svg")
    assert path.read_text().strip() == "<svg>system dot</svg>"


def test_pdf_needs_a_system_graphviz(tmp_path, no_system_dot, capsys):
    path = graph.render(lecture_f(), tmp_path / "f.pdf")
    assert path == tmp_path / "f.dot"
    hint = capsys.readouterr().err
    assert hint.endswith("\n") and len(hint.splitlines()) == 1 and "apt-get install graphviz" in hint


def test_render_without_graphviz_writes_the_dot_file(tmp_path, no_graphviz, capsys):
    f = lecture_f()
    path = graph.render(f, tmp_path / "out" / "f.svg")
    assert path == tmp_path / "out" / "f.dot"
    assert path.read_text(encoding="utf-8") == graph.to_dot(f)
    assert not (tmp_path / "out" / "f.svg").exists()
    hint = capsys.readouterr().err
    assert hint.endswith("\n") and len(hint.splitlines()) == 1
    assert 'pip install "minnet[graph]"' in hint and f"dot -Tsvg {path} -o {tmp_path / 'out' / 'f.svg'}" in hint


def test_render_dot_source_to_a_dot_path(tmp_path, capsys):
    source = graph.to_dot(mn.tensor(1.0))
    assert graph.render(source, tmp_path / "g.dot").read_text(encoding="utf-8") == source
    assert capsys.readouterr().err == ""


def test_render_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg, \.png"):
        graph.render(mn.tensor(1.0), tmp_path / "g.jpg")


@pytest.mark.slow
@pytest.mark.parametrize("stem", LECTURE)
def test_lecture_examples_draw_their_picture_and_page_without_system_graphviz(stem, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path / "empty"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / f"{stem}.py"), "--out", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""  # no "not found" hint: the picture was drawn
    assert (tmp_path / f"{stem}.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    page = (tmp_path / f"{stem}_steps.html").read_text(encoding="utf-8")
    assert "<svg" in page and "data-edge" in page
    assert f"graph:    {tmp_path / f'{stem}.svg'}\n" in result.stdout
