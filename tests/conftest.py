"""Test-suite wiring: whole modules that train models or run the CLI are ``slow``.

``python -m pytest -m "not slow"`` runs the core (autograd, layers, losses, optimizers,
graph, config, data) in seconds; the README's test command runs everything.
"""

from __future__ import annotations

import pytest

# Modules whose tests train models, start subprocesses or run benchmarks.
SLOW_MODULES = {
    "test_cli", "test_sweep", "test_examples", "test_bench_train_smoke", "test_benchmarks_smoke",
    "test_sklearn_estimators", "test_sklearn_reference", "test_train_by_hand",
    "test_reliability_state",
    "test_reliability_faults",
    "test_reliability_inputs",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
