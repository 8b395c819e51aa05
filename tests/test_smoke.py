import numpy as np

import minnet as mn


def test_lecture_f_equals_x_plus_y_times_z():
    x, y, z = (mn.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0))
    f = (x + y) * z
    f.backward()
    assert f.item() == 9.0
    assert (x.grad, y.grad, z.grad) == (3.0, 3.0, 3.0)


def test_float64_arrays_keep_their_dtype():
    assert mn.Tensor(np.ones(2)).dtype == np.float64
    assert mn.tensor([1, 2]).dtype == np.float32
