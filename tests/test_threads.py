"""Grad mode, default dtype and the default generator are per thread, as in PyTorch."""

from __future__ import annotations

import threading

import numpy as np

import minnet as mn


def _in_thread(fn):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", fn()))
    thread.start()
    thread.join()
    return result["value"]


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside = threading.Event()
    release = threading.Event()

    def hold_no_grad():
        with mn.no_grad():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold_no_grad)
    holder.start()
    inside.wait(5)
    try:
        x = mn.tensor([1.0, 2.0], requires_grad=True)
        nodes = [(x * 2).sum() for _ in range(200)]  # recorded while the other thread is in no_grad
        assert all(n.requires_grad and n.op == "sum" for n in nodes)
        assert mn.is_grad_enabled()
    finally:
        release.set()
        holder.join()


def test_a_new_thread_starts_with_grad_mode_on_even_inside_no_grad():
    with mn.no_grad():
        assert not mn.is_grad_enabled()
        assert _in_thread(mn.is_grad_enabled) is True
        assert _in_thread(lambda: (mn.tensor([1.0], requires_grad=True) * 2).requires_grad) is True


def test_enable_grad_records_inside_no_grad():
    x = mn.tensor([1.0], requires_grad=True)
    with mn.no_grad():
        assert not (x * 2).requires_grad
        with mn.enable_grad():
            assert (x * 2).requires_grad


def test_default_dtype_is_per_thread():
    mn.set_default_dtype(np.float64)
    try:
        assert mn.tensor([1, 2]).dtype == np.float64
        assert _in_thread(lambda: mn.tensor([1, 2]).dtype) == np.float32
        assert _in_thread(mn.get_default_dtype) == np.float32
    finally:
        mn.set_default_dtype(np.float32)
    assert mn.tensor([1, 2]).dtype == np.float32


def test_manual_seed_is_per_thread_and_reproducible():
    def weights():
        mn.manual_seed(3)
        return mn.nn.Linear(4, 2).weight.data.copy()

    here = weights()
    np.testing.assert_array_equal(_in_thread(weights), here)
    mn.manual_seed(3)
    first = mn.nn.Linear(4, 2).weight.data.copy()
    _in_thread(lambda: [mn.nn.Linear(4, 2) for _ in range(3)])  # draws in another thread ...
    second = mn.nn.Linear(4, 2).weight.data  # ... take nothing from this thread's sequence
    mn.manual_seed(3)
    mn.nn.Linear(4, 2)
    np.testing.assert_array_equal(second, mn.nn.Linear(4, 2).weight.data)
    np.testing.assert_array_equal(first, here)
