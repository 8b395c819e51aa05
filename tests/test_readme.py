"""The README's Python snippets run as written, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_moons

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.slow
def test_readme_python_snippets_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # snippets may write files (graph pictures)
    X, y = make_moons(200, noise=0.2, random_state=0)
    data = {"X": X, "y": y, "X_batch": X[:32].astype(np.float32), "y_batch": y[:32]}
    namespace: dict = {}
    assert len(BLOCKS) >= 5
    for i, block in enumerate(BLOCKS):
        namespace.update(data)  # the data a snippet says it uses (X, y, X_batch, y_batch)
        try:
            exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message says which block
            pytest.fail(f"README python block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}")
    assert namespace["f"].item() == 9 and namespace["x"].grad == 3  # the lecture's f = (x+y)z
