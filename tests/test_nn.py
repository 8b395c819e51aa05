import copy
import pickle

import numpy as np
import pytest

import minnet as mn
from minnet import nn


def _mlp(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 4, rng=rng, dtype=dtype), nn.Tanh(), nn.Linear(4, 2, rng=rng, dtype=dtype))


def test_linear_computes_x_weight_transpose_plus_bias():
    layer = nn.Linear(3, 2, dtype=np.float64)
    layer.bias.data[...] = [0.5, -1.0]
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 5, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(x_shape, bias):
    layer = nn.Linear(3, 4, bias=bias, dtype=np.float64)
    x = mn.Tensor(np.random.default_rng(1).normal(size=x_shape), requires_grad=True)
    params = [layer.weight] + ([layer.bias] if bias else [])
    assert mn.gradcheck(lambda x, *p: layer(x), x, *params)


@pytest.mark.parametrize("activation, op", [(nn.Sigmoid, mn.sigmoid), (nn.Tanh, mn.tanh), (nn.ReLU, mn.relu)])
def test_activation_layers_match_ops_and_gradcheck(activation, op):
    x = mn.Tensor(np.random.default_rng(2).normal(size=(4, 3)) + 0.05, requires_grad=True)
    np.testing.assert_array_equal(activation()(x).data, op(x).data)
    assert mn.gradcheck(lambda x: activation()(x), x)
    assert nn.Identity()(x) is x


def test_whole_model_gradcheck():
    model = _mlp()
    x = mn.Tensor(np.random.default_rng(3).normal(size=(6, 3)))
    assert mn.gradcheck(lambda *p: model(x), *model.parameters())


def test_initialisation_is_reproducible_from_a_seed_and_from_an_rng():
    mn.manual_seed(7)
    a = nn.Linear(5, 4)
    mn.manual_seed(7)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    c = nn.Linear(5, 4, rng=np.random.default_rng(3))
    d = nn.Linear(5, 4, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


def test_glorot_and_he_scales():
    rng = np.random.default_rng(0)
    glorot = nn.Linear(300, 200, rng=rng, dtype=np.float64).weight.data
    he = nn.Linear(300, 200, init="he", rng=rng, dtype=np.float64).weight.data
    assert np.abs(glorot).max() <= np.sqrt(6 / 500)
    assert glorot.var() == pytest.approx(2 / 500, rel=0.05)
    assert he.var() == pytest.approx(2 / 300, rel=0.05)


def test_parameters_use_the_default_dtype_unless_given():
    assert nn.Linear(2, 2).weight.dtype == np.float32
    assert nn.Linear(2, 2, dtype="float64").bias.dtype == np.float64


def test_named_parameters_are_dotted_and_ordered():
    model = _mlp()
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())


class TwoBranch(nn.Module):
    def __init__(self):
        self.branches = [nn.Linear(2, 3), nn.Linear(2, 3)]
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 1))

    def forward(self, x):
        return self.head(self.branches[0](x) + self.branches[1](x))


def test_submodules_in_lists_and_nested_sequential_register_themselves():
    model = TwoBranch()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["branches.0.weight", "branches.0.bias", "branches.1.weight", "branches.1.bias",
                     "head.1.weight", "head.1.bias"]
    assert "(head): Sequential(" in repr(model) and "Linear(in_features=2, out_features=3" in repr(model)


def test_shared_parameter_is_listed_once():
    model = TwoBranch()
    model.branches[1] = model.branches[0]
    assert len(list(model.parameters())) == 4


def _ids(params):
    return [id(p) for p in params]


def test_parameters_follow_every_change_to_the_model():
    class Net(nn.Module):
        def __init__(self):
            self.blocks = [nn.Linear(2, 3)]
            self.head = nn.Linear(3, 1)

    net = Net()
    assert _ids(net.parameters()) == _ids(p for _, p in net.named_parameters())
    net.blocks.append(nn.Linear(3, 3))        # a list edited in place
    assert len(list(net.parameters())) == 6
    net.blocks[0] = nn.Linear(2, 3)           # an item replaced: same length
    assert _ids(net.parameters()) == _ids(p for _, p in net.named_parameters())
    net.head.weight = nn.Parameter(np.zeros((1, 3)))  # a grandchild's attribute
    assert any(p is net.head.weight for p in net.parameters())
    del net.head
    assert len(list(net.parameters())) == 4
    seq = nn.Sequential(nn.Linear(2, 2))
    seq.append(nn.Linear(2, 2))
    assert len(list(seq.parameters())) == 4
    net.history = [np.zeros(2)]
    list(net.parameters())
    net.history[0] = np.ones(2)  # items are compared by identity, never with ==
    assert len(list(net.parameters())) == 4


def test_a_copied_or_pickled_model_lists_its_own_parameters():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    list(model.parameters())  # fill the cache before copying
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert _ids(clone.parameters()) == _ids(p for _, p in clone.named_parameters())
        assert not set(_ids(clone.parameters())) & set(_ids(model.parameters()))


def test_zero_grad_clears_gradients():
    model = _mlp()
    model(np.ones((2, 3))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_set_the_mode_recursively():
    model = TwoBranch().eval()
    assert not any(m.training for m in model.modules())
    assert all(m.training for m in model.train().modules())


def test_sequential_is_indexable_iterable_and_sized():
    model = _mlp()
    assert len(model) == 3
    assert isinstance(model[1], nn.Tanh)
    assert [type(m) for m in model] == [nn.Linear, nn.Tanh, nn.Linear]
    assert len(model[:2]) == 2
    with pytest.raises(TypeError, match="item 0"):
        nn.Sequential("not a module")


def test_state_dict_round_trip_copies_values():
    source, target = _mlp(seed=0), _mlp(seed=1)
    state = source.state_dict()
    state["0.weight"] += 1.0  # a copy: the model is untouched
    assert not np.array_equal(state["0.weight"], source[0].weight.data)
    target.load_state_dict(source.state_dict())
    x = np.ones((2, 3))
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_state_dict_is_strict():
    model = _mlp()
    state = model.state_dict()
    missing = {k: v for k, v in state.items() if k != "2.bias"}
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\]"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        model.load_state_dict({**state, "extra": np.zeros(1)})
    before = model[0].weight.data.copy()
    wrong = {**state, "0.weight": np.zeros((4, 3)) + 5, "2.weight": np.zeros((3, 3))}
    with pytest.raises(ValueError, match=r"'2.weight' has shape \(3, 3\).*\(2, 4\)"):
        model.load_state_dict(wrong)
    np.testing.assert_array_equal(model[0].weight.data, before)  # nothing half-loaded
    model.load_state_dict(missing, strict=False)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True])
def test_linear_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="in_features: expected an integer >= 1"):
        nn.Linear(bad, 3)
    with pytest.raises(ValueError, match="out_features: expected an integer >= 1"):
        nn.Linear(3, bad)


def test_linear_rejects_unknown_init():
    with pytest.raises(ValueError, match=r"unknown init 'xavier'.*\['glorot', 'he'\]"):
        nn.Linear(3, 3, init="xavier")


def test_linear_names_both_sizes_and_the_layer_on_a_mismatched_input():
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=4.*last dimension 5.*in_features=3"):
        nn.Linear(3, 4)(np.ones((2, 5)))


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        type("Empty", (nn.Module,), {})()(1)


@pytest.mark.parametrize("activation, layer", [("relu", nn.ReLU), ("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh)])
def test_fused_hidden_layer_equals_linear_then_activation(activation, layer):
    rng = np.random.default_rng(4)
    lin = nn.Linear(3, 5, rng=rng, dtype=np.float64)
    x = mn.Tensor(rng.normal(size=(6, 3)), requires_grad=True)
    fused = nn.Sequential(lin, layer())(x)
    assert fused.op == f"linear_{activation}"
    np.testing.assert_allclose(fused.data, layer()(lin(x)).data, rtol=1e-12)
    assert mn.gradcheck(lambda x, w, b: nn.linear_activation(x, w, b, activation), x, lin.weight, lin.bias)


def test_sequential_fuses_only_a_linear_followed_by_an_activation():
    class Doubling(nn.ReLU):  # a subclass may change forward, so it is never fused
        def forward(self, x):
            return 2 * super().forward(x)

    model = nn.Sequential(nn.Linear(2, 3), Doubling(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    x = np.ones((4, 2), dtype=np.float32)
    out = model(x)
    ops = []
    node = out
    while node._parents:
        ops.append(node.op)
        node = node._parents[1] if node.op == "mul" else node._parents[0]  # mul(2, relu)
    assert ops == ["linear", "linear_tanh", "mul", "relu", "linear"]


@pytest.mark.parametrize("model", [nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))],
                         ids=["linear", "fused"])
def test_a_layer_records_a_node_only_when_something_needs_a_gradient(model):
    x = np.ones((5, 3), np.float32)
    assert model(x).requires_grad  # the weights need gradients
    with mn.no_grad():
        out = model(x)
    assert not out.requires_grad and out._backward is None
    for p in model.parameters():
        p.requires_grad = False
    frozen = model(x)
    assert not frozen.requires_grad and frozen._backward is None
    xt = mn.Tensor(x, requires_grad=True)
    model(xt).sum().backward()  # frozen weights, an input that needs its gradient
    assert xt.grad is not None and xt.grad.shape == (5, 3)
    assert all(p.grad is None for p in model.parameters())
