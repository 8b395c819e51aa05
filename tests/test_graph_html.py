"""The step-through page and its quiz: the steps as data, the file, the CLI, and a real browser.

The browser test opens the page in headless Chromium at ``#step=N`` and reads the
DOM the page's own JavaScript built; it skips only where ``chromium`` is not installed
(CI installs Debian's).
"""

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from lecture import lecture_f, lecture_graph

from minnet import graph
from minnet.cli import main
from minnet.graph import graphviz
from minnet.graph.html import page_steps

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium")


def test_steps_run_the_forward_pass_then_the_explain_table():
    steps = page_steps(lecture_f())
    titles = [s["title"] for s in steps]
    assert titles == ["The graph", "Forward 1 of 2: m", "Forward 2 of 2: f", "Backward pass starts",
                      "Backward, edge 1: f → m", "Backward, edge 2: f → z", "Backward, edge 3: m → x",
                      "Backward, edge 4: m → y", "Backward pass done"]
    assert steps[0]["known"] == ["x = 1", "y = 2", "z = 3"]
    assert steps[1]["text"] == "m = x+y = 1+2 = 3" and steps[1]["show"] == ["v2-value"]
    assert steps[2]["known"] == ["f = 9"] and steps[3]["known"] == ["∂f/∂f = 1"]
    rows = graph.explain_rows(lecture_f())
    for step, row in zip(steps[4:8], rows, strict=True):  # the explain table's order and numbers
        assert step["chain"]["rule"] == row.formula
        assert step["answers"]["local"] == [float(row.local)] and step["answers"]["product"] == [float(row.product)]
    x_edge = steps[6]
    assert x_edge["edges"] == ["v0->v2"] and x_edge["show"] == ["v0-grad"] and x_edge["known"] == ["∂f/∂x = 3"]
    assert x_edge["chain"]["upstream_label"] == "upstream ∂f/∂m" and x_edge["chain"]["product"] == "3"


def test_a_quiz_reveals_each_gradient_one_step_after_it_is_asked():
    normal, quiz = page_steps(lecture_f()), page_steps(lecture_f(), quiz=True)
    assert [s["title"] for s in quiz] == [s["title"] for s in normal]
    assert quiz[6]["show"] == ["v3-grad"] and quiz[7]["show"] == ["v0-grad"] and quiz[8]["show"] == ["v1-grad"]


def test_without_backward_the_page_steps_through_the_forward_pass_only():
    assert [s["title"] for s in page_steps(lecture_graph()[-1])][-1] == "Forward 2 of 2: f"
    with pytest.raises(RuntimeError, match="backward"):
        graph.quiz(lecture_graph()[-1], "never.html")


def test_the_page_is_one_self_contained_file(tmp_path):
    path = graph.html(lecture_f(), tmp_path / "pages" / "f.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<script>" in text and "<style>" in text
    assert not re.search(r"(src|href)=", text) and "https://" not in text  # nothing fetched
    assert 'data-node="v2"' in text and 'data-edge="v0-&gt;v2"' in text and 'data-row="v0-grad"' in text


def test_without_graphviz_the_page_still_steps_through_the_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(graphviz.shutil, "which", lambda *args, **kwargs: None)
    text = graph.html(lecture_f(), tmp_path / "f.html").read_text(encoding="utf-8")
    assert "<svg" not in text and "nograph" in text and "Backward, edge 3: m → x" in text
    assert 'pip install "minnet[graph]"' in capsys.readouterr().err


@pytest.mark.slow
def test_graph_command_writes_the_picture_and_the_quiz_page(tmp_path, capsys):
    config = str(ROOT / "configs" / "moons.toml")
    assert main(["graph", config, "-o", str(tmp_path / "step.svg"), "--quiz"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'step.svg'}" in out and f"wrote {tmp_path / 'step.html'}" in out
    assert '"quiz": true' in (tmp_path / "step.html").read_text(encoding="utf-8")
    assert main(["graph", config, "-o", str(tmp_path / "page.html")]) == 0
    assert (tmp_path / "page.html").exists() and not list(tmp_path.glob("page.[sd]*"))


# ---- in a real browser -----------------------------------------------------------------

def dom_at(page: Path, fragment: str, tmp_path: Path) -> str:
    """The DOM that the page's script built when opened at ``page#fragment``, from headless Chromium."""
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", f"{page.as_uri()}#{fragment}"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def texts(dom: str, element_id: str) -> list[str]:
    """The text of each item (or cell) inside the element with ``element_id``."""
    inner = re.search(rf'id="{element_id}"[^>]*>(.*?)</(ul|table|p|h2)>', dom, re.S)
    assert inner, f"no #{element_id} in the page"
    return [unescape(t) for t in re.findall(r"<(?:li|td)[^>]*>([^<]*)</(?:li|td)>", inner[1])] or [unescape(inner[1])]


def row_shown(dom: str, row: str) -> bool:
    tag = re.search(rf'<text[^>]*data-row="{row}"[^>]*>', dom)
    assert tag, row
    return "hidden" not in tag[0]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs Debian's)")
def test_after_n_steps_the_browser_shows_the_engines_values(tmp_path):
    page = graph.html(lecture_f(), tmp_path / "f.html")
    after_forward = dom_at(page, "step=2", tmp_path)
    assert texts(after_forward, "counter") == ["step 2 of 8"]
    assert texts(after_forward, "known")[-1] == "f = 9"
    assert row_shown(after_forward, "v4-value") and not row_shown(after_forward, "v4-grad")
    after_x = dom_at(page, "step=6", tmp_path)
    assert texts(after_x, "title") == ["Backward, edge 3: m → x"]
    assert texts(after_x, "known")[-1] == "∂f/∂x = 3"
    assert texts(after_x, "chain")[-5:] == ["1", "×", "3", "=", "3"]  # local × upstream = product
    assert row_shown(after_x, "v0-grad") and not row_shown(after_x, "v1-grad")
    edges = {unescape(e): "active" in tag for tag, e in re.findall(r'(<g[^>]*data-edge="([^"]*)"[^>]*>)', after_x)}
    assert edges == {"v0->v2": True, "v1->v2": False, "v2->v4": False, "v3->v4": False}  # the edge of this step


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs Debian's)")
def test_the_browser_quiz_checks_answers_against_the_engine(tmp_path):
    page = graph.quiz(lecture_f(), tmp_path / "q.html")
    asked = dom_at(page, "step=6", tmp_path)
    assert 'id="answer-local"' in asked and 'id="answer-product"' in asked
    assert "∂f/∂x = 3" not in texts(asked, "known") and not row_shown(asked, "v0-grad")
    right = dom_at(page, "step=6&local=1&product=3.0004", tmp_path)  # within the tolerance
    assert texts(right, "verdict")[0].startswith("✓") and 'id="answer-product"' not in right
    wrong = dom_at(page, "step=6&local=1&product=1", tmp_path)
    assert texts(wrong, "verdict")[0].startswith("✗") and 'id="answer-product"' in wrong
