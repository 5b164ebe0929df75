"""check_layer on the other class conventions people write (issue: check the code people
actually write, without glue)."""

from __future__ import annotations

import numpy as np
import pytest

import derivcheck as dc
from derivcheck.examples import book_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3))


class DenseDx:  # CS231n-style names
    def __init__(self):
        self.W, self.b = np.random.default_rng(1).normal(size=(3, 2)), np.zeros(2)

    def forward(self, x):
        self.x = x
        self.output = x @ self.W + self.b

    def backward(self, dout):
        self.dx, self.dW, self.db = dout @ self.W.T, self.x.T @ dout, dout.sum(axis=0)


class DenseTorchNames:  # grad_<param>, <param>_grad, the input gradient returned
    def __init__(self):
        self.weight, self.bias = np.random.default_rng(1).normal(size=(3, 2)), np.zeros(2)

    def forward(self, x):
        self.x = x
        return x @ self.weight + self.bias

    def backward(self, dout):
        self.grad_weight, self.bias_grad = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.weight.T


class DenseReturnsList:
    def __init__(self):
        self.W, self.b = np.random.default_rng(1).normal(size=(3, 2)), np.zeros(2)

    def forward(self, x):
        self.x = x
        self.output = x @ self.W + self.b

    def backward(self, dout):
        return [dout @ self.W.T, self.x.T @ dout, dout.sum(axis=0)]


class DenseDicts:  # numpy-ml style: parameters and gradients in dicts
    def __init__(self, wrong=False):
        self.parameters = {"W": np.random.default_rng(1).normal(size=(3, 2)), "b": np.zeros(2)}
        self.gradients = {"W": np.zeros((3, 2)), "b": np.zeros(2)}
        self.wrong = wrong

    def forward(self, x):
        self.x = x
        return x @ self.parameters["W"] + self.parameters["b"]

    def backward(self, dout):
        self.gradients["W"] = self.x.T @ dout * (2 if self.wrong else 1)
        self.gradients["b"] = dout.sum(axis=0)
        return dout @ self.parameters["W"].T


class Embedding:
    def __init__(self, fancy=False):
        self.W = np.random.default_rng(1).normal(size=(5, 3))
        self.fancy = fancy

    def forward(self, ids):
        self.ids = ids
        self.output = self.W[ids]

    def backward(self, dout):
        self.dW = np.zeros_like(self.W)
        if self.fancy:
            self.dW[self.ids] += dout
        else:
            np.add.at(self.dW, self.ids, dout)


class ThroughStore:  # the parameter reached through another object
    def __init__(self):
        self.store = {"W": np.random.default_rng(1).normal(size=(3, 2))}

    def forward(self, x):
        self.x = x
        self.output = x @ self.store["W"]

    def backward(self, dout):
        self.dinputs, self.dW = dout @ self.store["W"].T, self.x.T @ dout


@pytest.mark.parametrize(
    ("layer", "names"),
    [
        (DenseDx(), ["dinputs", "dW", "db"]),
        (DenseTorchNames(), ["dinputs", "dweight", "dbias"]),
        (DenseReturnsList(), ["dinputs", "dW", "db"]),
        (DenseDicts(), ["dinputs", "dW", "db"]),
    ],
)
def test_other_gradient_names_and_storage(layer, names):
    for reference in ("numeric", "both"):
        rep = dc.check_layer(layer, X, reference=reference)
        assert rep.ok, str(rep)
        assert list(rep.checked) == names


def test_dict_parameters_are_checked_not_just_found():
    rep = dc.check_layer(DenseDicts(wrong=True), X)
    assert not rep.ok and {f.tensor for f in rep.failures} == {"dW"}
    assert "× 2" in str(rep)


def test_dicts_are_left_as_found():
    layer = DenseDicts()
    W, grads = layer.parameters["W"], layer.gradients
    before = {k: v.copy() for k, v in grads.items()}
    dc.check_layer(layer, X)
    assert layer.parameters["W"] is W and layer.gradients is grads
    assert all(np.array_equal(before[k], grads[k]) for k in grads)


def test_a_stale_gradient_is_not_taken_for_a_new_one():
    class Forgets(DenseDicts):
        def backward(self, dout):
            self.gradients["b"] = dout.sum(axis=0)  # W's gradient is never written
            return dout @ self.parameters["W"].T

    rep = dc.check_layer(Forgets(), X)
    assert not rep.ok and any(f.tensor == "dW" and f.kind == "missing" for f in rep.failures)


def test_params_mapping_and_dict_attribute():
    layer = ThroughStore()
    for params in ({"W": layer.store["W"]}, ["store"]):
        for reference in ("numeric", "both"):
            rep = dc.check_layer(layer, X, params=params, reference=reference)
            assert rep.ok, str(rep)
            assert set(rep.checked) == {"dinputs", "dW"}


def test_integer_inputs_pass_unchanged():
    ids = np.array([[0, 1, 1], [4, 1, 0]])
    rep = dc.check_layer(Embedding(), ids)
    assert rep.ok and list(rep.checked) == ["dW"]
    assert "only the parameters are checked" in str(rep)
    rep = dc.check_layer(Embedding(fancy=True), ids)
    assert not rep.ok and "np.add.at" in str(rep)


def test_the_chapter_19_combined_softmax_loss_without_forward():
    layer = book_model.Activation_Softmax_Loss_CategoricalCrossentropy()
    y = np.array([0, 2, 1, 1])
    rep = dc.check_layer(layer, X, y)
    assert rep.ok and rep.subject == "Activation_Softmax_Loss_CategoricalCrossentropy"
    assert vars(layer) == {}
    with pytest.raises(dc.InputError, match="pass y_true"):
        dc.check_layer(layer, X)


def test_a_class_instead_of_an_instance():
    with pytest.raises(dc.InputError, match="pass an instance"):
        dc.check_layer(DenseDx, X)


def test_reference_both_does_not_fail_a_parameter_read_elsewhere():
    class Aliased(ThroughStore):
        def __init__(self):
            super().__init__()
            self.W = self.store["W"]  # the same array, but forward reads the dict

    rep = dc.check_layer(Aliased(), X, reference="both")
    assert rep.ok, str(rep)
    assert "never reads" in str(rep)


def test_a_gradient_accumulated_across_calls_is_named():
    from derivcheck.examples.book import Layer_Dense

    class Accumulates(Layer_Dense):
        def backward(self, dvalues):
            if not hasattr(self, "dweights"):
                self.dweights = np.zeros_like(self.weights)
            self.dweights += self.inputs.T @ dvalues
            self.dbiases = dvalues.sum(axis=0, keepdims=True)
            self.dinputs = dvalues @ self.weights.T

    rep = dc.check_layer(Accumulates(3, 2), X)
    assert not rep.ok
    assert [(f.tensor, f.kind) for f in rep.failures] == [("dweights", "accumulates")]
    assert "`+=` on a stored gradient" in str(rep)
    # the correct layer, checked twice in a row, is repeatable
    layer = Layer_Dense(3, 2)
    assert dc.check_layer(layer, X).ok and dc.check_layer(layer, X).ok


def test_backward_changing_its_cache_or_dvalues_is_named():
    from derivcheck.examples import cs231n

    def relu_backward_inplace(dout, cache):
        dout[cache <= 0] = 0
        return dout

    def relu_backward_clobbers_cache(dout, cache):
        cache[cache <= 0] = 0
        return dout * (cache > 0)

    x = RNG.normal(size=(3, 4))
    rep = dc.check_function(cs231n.relu_forward, relu_backward_inplace, x)
    assert not rep.ok and "modified its dvalues argument in place" in str(rep)
    rep = dc.check_function(cs231n.relu_forward, relu_backward_clobbers_cache, x)
    assert not rep.ok and "backward modified `x` in place" in str(rep)


def test_an_exception_in_user_code_names_its_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "user_layer.py").write_text(
        "import numpy as np\n"
        "class Bad:\n"
        "    def __init__(self):\n"
        "        self.W = np.ones((3, 2))\n"
        "    def forward(self, x):\n"
        "        self.x = x\n"
        "        self.output = x @ self.W\n"
        "    def backward(self, d):\n"
        "        self.dinputs = d @ self.W.T\n"
        "        self.dW = self.x @ d\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_layer

    rep = dc.check_layer(user_layer.Bad(), np.ones((4, 3)))
    assert not rep.ok
    text = str(rep)
    assert "backward raised ValueError" in text
    assert f"at {tmp_path / 'user_layer.py'}:10 in backward: self.dW = self.x @ d" in text


def test_a_directional_report_says_how_many_entries_there_are():
    from derivcheck.examples import broken

    np.random.seed(0)
    layer = broken.Dense_OneWeightOffByOnePercent(200, 64)
    rep = dc.check_layer(layer, RNG.normal(size=(8, 200)), mode="directional")
    assert not rep.ok
    assert "compared one by one (12,800 entries in all)" in str(rep)
