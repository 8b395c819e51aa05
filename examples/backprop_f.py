"""f = (x + y) z at x=1, y=2, z=3: the lecture's first computational graph."""

import minnet as mn

x = mn.tensor(1.0, requires_grad=True, name="x")
y = mn.tensor(2.0, requires_grad=True, name="y")
z = mn.tensor(3.0, requires_grad=True, name="z")
m = x + y
f = m * z
f.backward()
print(f"m = x + y = {m.item():g},  f = m z = {f.item():g}")
print(f"df/dx = {x.grad.item():g},  df/dy = {y.grad.item():g},  df/dz = {z.grad.item():g}")
