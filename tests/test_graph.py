"""minnet.graph: the DOT picture and the explained backward pass of small graphs."""

import re

import numpy as np
import pytest
from lecture import lecture_graph

import minnet as mn
from minnet import graph

NODE = re.compile(r'^  (v\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$', re.M)
EDGE = re.compile(r"^  (v\d+) -> (v\d+);$", re.M)


def parse(dot: str) -> tuple[dict[str, tuple[list[str], str]], list[tuple[str, str]]]:
    """Node id -> (label lines, attributes), and the edges, from to_dot's output."""
    assert dot.startswith("digraph minnet {") and dot.rstrip().endswith("}")
    nodes = {m[1]: (m[2].split("\\n"), m[3]) for m in NODE.finditer(dot)}
    return nodes, EDGE.findall(dot)


def titles(nodes):
    return {node_id: lines[0] for node_id, (lines, _) in nodes.items()}


def test_dot_of_lecture_graph_has_one_node_per_leaf_and_op():
    *_, f = lecture_graph()
    f.backward()
    nodes, edges = parse(graph.to_dot(f))
    assert len(nodes) == 5 and len(edges) == 4
    by_title = {lines[0]: node_id for node_id, (lines, _) in nodes.items()}
    assert set(by_title) == {"x = 1", "y = 2", "z = 3", "m = x+y", "f = m·z"}
    expected = {("x = 1", "m = x+y"), ("y = 2", "m = x+y"), ("m = x+y", "f = m·z"), ("z = 3", "f = m·z")}
    assert {(titles(nodes)[a], titles(nodes)[b]) for a, b in edges} == expected
    # the lecture's forward pass, m = 1 + 2 = 3 and f = 3 × 3 = 9, then each gradient
    assert nodes[by_title["m = x+y"]][0] == ["m = x+y", "= 1+2 = 3", "∂f/∂m = 3"]
    assert nodes[by_title["f = m·z"]][0] == ["f = m·z", "= 3·3 = 9", "∂f/∂f = 1"]
    assert nodes[by_title["x = 1"]][0] == ["x = 1", "∂f/∂x = 3"]
    assert "peripheries=2" in nodes[by_title["f = m·z"]][1]  # the output stands out


def test_dot_shows_gradients_only_after_backward():
    *_, f = lecture_graph()
    before = graph.to_dot(f)
    assert "∂f" not in before and "= 3·3 = 9" in before
    f.backward()
    assert "∂f/∂f = 1" in graph.to_dot(f)


def test_dot_ids_follow_traversal_order_and_repeat_exactly():
    dots = [graph.to_dot(lecture_graph()[-1]) for _ in range(2)]
    assert dots[0] == dots[1]
    nodes, _ = parse(dots[0])
    assert list(titles(nodes).values()) == ["x = 1", "y = 2", "m = x+y", "z = 3", "f = m·z"]
    assert list(nodes) == ["v0", "v1", "v2", "v3", "v4"]


def test_ops_without_an_elementwise_formula_are_drawn_as_calls():
    a = mn.Tensor(np.eye(2) * 2, requires_grad=True, name="A")
    d = mn.logdet(a)
    d.name = "d"
    nodes, _ = parse(graph.to_dot(d))
    assert ["d = logdet(A)", "= 1.386"] in [lines for lines, _ in nodes.values()]


def test_constants_are_nodes_drawn_distinctly():
    x = mn.tensor(2.0, requires_grad=True, dtype=np.float64, name="x")
    nodes, edges = parse(graph.to_dot(x * 3))
    assert len(nodes) == 3 and len(edges) == 2
    const = [(lines, attrs) for lines, attrs in nodes.values() if lines[0].startswith("const")]
    assert len(const) == 1
    assert const[0][0] == ["const = 3"] and "dashed" in const[0][1]
    assert "v2 = x·3" in titles(nodes).values()


def test_plain_tensor_is_a_one_node_graph():
    nodes, edges = parse(graph.to_dot(mn.Tensor(np.array([1.0, 2.5]), name="a")))
    assert edges == []
    assert [lines for lines, _ in nodes.values()] == [["a", "shape (2,)", "value [1, 2.5]"]]


def test_large_tensors_show_shape_and_gradient_norm_not_values():
    w = mn.Tensor(np.ones((3, 4)), requires_grad=True, name="W")
    loss = (w * 2).sum()
    loss.name = "L"
    loss.backward()
    nodes, _ = parse(graph.to_dot(loss))
    w_lines = next(lines for lines, _ in nodes.values() if lines[0] == "W")
    assert w_lines == ["W", "shape (3, 4)", "‖∂L/∂W‖ = 6.928"]  # ‖2·ones(3, 4)‖ = 2√12


def test_large_graphs_show_shapes_only():
    x = mn.Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    y = x
    for _ in range(20):
        y = y * 1.5 + 1.0  # two ops and two constants per line: 81 nodes
    y.sum().backward()
    dot = graph.to_dot(y)
    nodes, edges = parse(dot)
    assert len(nodes) == 81 and len(edges) == 80
    assert all(len(lines) == 1 or lines[1] == "shape (2,)" for lines, _ in nodes.values())
    assert "value" not in dot and "∂" not in dot and " = 1.5" not in dot
    assert "value [0.5, -1]" in graph.to_dot(y, values=True)
    *_, f = lecture_graph()
    assert "= 9" not in graph.to_dot(f, values=False)


def test_dot_escapes_quotes_in_names():
    t = mn.Tensor(np.zeros(1), name='say "hi"')
    nodes, _ = parse(graph.to_dot(t))
    assert [lines[0] for lines, _ in nodes.values()] == ['say \\"hi\\" = [0]']


# ---- explain ------------------------------------------------------------------------

def test_explain_rows_read_like_the_lecture_solution():
    *_, f = lecture_graph()
    f.backward()
    rows = graph.explain_rows(f)
    got = [(r.step, r.child, r.op, r.parent, float(r.value), r.formula, float(r.local), float(r.upstream),
            float(r.product)) for r in rows]
    assert got == [
        (1, "f", "mul", "m", 3.0, "∂(m·z)/∂m = z", 3.0, 1.0, 3.0),   # df/dm = z = 3
        (2, "f", "mul", "z", 3.0, "∂(m·z)/∂z = m", 3.0, 1.0, 3.0),   # df/dz = m = 3
        (3, "m", "add", "x", 1.0, "∂(x+y)/∂x = 1", 1.0, 3.0, 3.0),   # df/dx = df/dm · 1 = 3
        (4, "m", "add", "y", 2.0, "∂(x+y)/∂y = 1", 1.0, 3.0, 3.0),   # df/dy = df/dm · 1 = 3
    ]


def test_explain_text_is_a_table_with_one_line_per_edge():
    *_, f = lecture_graph()
    f.backward()
    lines = graph.explain(f).splitlines()
    assert lines[0] == "forward pass: f = 9"  # the lecture's first step: the forward value
    assert lines[1].startswith("backward pass of f") and "∂f/∂f = 1" in lines[1]
    assert lines[2].split()[:7] == ["step", "node", "node", "value", "input", "input", "value"]
    assert set(lines[3]) == {"-", " "}
    # each row shows the node's own forward value (f = 9, m = 3) beside its input's
    assert lines[4].split() == ["1", "f", "=", "mul", "9", "m", "3", "∂(m·z)/∂m", "=", "z", "3", "1", "3"]
    assert lines[5].split() == ["2", "f", "=", "mul", "9", "z", "3", "∂(m·z)/∂z", "=", "m", "3", "1", "3"]
    assert lines[6].split()[:5] == ["3", "m", "=", "add", "3"]
    assert len(lines) == 8


def test_explain_before_backward_says_to_call_backward():
    *_, f = lecture_graph()
    with pytest.raises(RuntimeError, match=r"call \.backward\(\)"):
        graph.explain(f)


def test_explain_of_a_tensor_without_graph_is_a_clear_error():
    with pytest.raises(ValueError, match="requires_grad"):
        graph.explain_rows(mn.tensor([1.0, 2.0]))


def test_products_are_unbroadcast_and_sum_to_the_gradients():
    x = mn.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="x")
    b = mn.Tensor(np.array(0.5), requires_grad=True, name="b")
    s = (x * b + b).sum()  # b is broadcast twice and used twice
    s.backward()
    rows = graph.explain_rows(s)
    to_b = [r for r in rows if r.parent == "b"]
    assert len(to_b) == 2 and all(r.product.shape == () for r in to_b)
    assert sum(float(r.product) for r in to_b) == b.grad.item() == 9.0  # Σx + 3·1
    mul_row = next(r for r in rows if r.op == "mul" and r.parent == "b")
    np.testing.assert_array_equal(mul_row.local, [1.0, 2.0, 3.0])  # ∂(x·b)/∂b = x, elementwise
    assert "b is used 2 times (steps" in graph.explain(s) and "= 9" in graph.explain(s)


def test_fan_out_is_summed_in_the_footer():
    x = mn.tensor(3.0, requires_grad=True, dtype=np.float64, name="x")
    f = x * x
    f.name = "f"
    f.backward()
    assert graph.explain(f).splitlines()[-1] == "x is used 2 times (steps 1, 2): ∂f/∂x = 3 + 3 = 6"


def test_matrix_ops_show_the_rule_and_no_local_value():
    rng = np.random.default_rng(0)
    w = mn.Tensor(rng.normal(size=(3, 3)), requires_grad=True, name="W")
    x = mn.Tensor(rng.normal(size=3), name="x")
    g = w @ x
    g.name = "g"
    loss = (g ** 2).sum()
    loss.name = "L"
    loss.backward()
    row = next(r for r in graph.explain_rows(loss) if r.op == "matmul")
    assert row.formula == "∂L/∂W = ∂L/∂g·xᵀ" and row.local is None
    np.testing.assert_allclose(row.product, 2 * np.outer(w.data @ x.data, x.data))
    assert "—" in graph.explain(loss) and "(3, 3) ‖" in graph.explain(loss)


def test_compound_labels_are_parenthesised_in_formulas():
    k = mn.Tensor(np.eye(2) * 2, requires_grad=True, name="K")
    k_inv = mn.inv(k)
    k_inv.name = "K⁻¹"
    loss = mn.trace(k_inv @ k_inv)
    loss.name = "L"
    loss.backward()
    formulas = [r.formula for r in graph.explain_rows(loss)]
    assert "∂L/∂K = −(K⁻¹)ᵀ·∂L/∂K⁻¹·(K⁻¹)ᵀ" in formulas


def test_explain_of_a_leaf_has_nothing_to_propagate():
    x = mn.tensor(2.0, requires_grad=True, name="x")
    x.backward()
    assert graph.explain_rows(x) == []
    assert graph.explain(x) == "x is a leaf: the backward pass has nothing to propagate"


def test_graph_is_exported_from_the_package():
    assert mn.graph is graph and "graph" in mn.__all__
