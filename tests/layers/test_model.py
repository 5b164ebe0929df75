"""check_model on the book's Model (chapters 18-22) and on a plain list of layers."""

from __future__ import annotations

import json

import numpy as np
import pytest

import derivcheck as dc
from derivcheck.examples import book, broken
from derivcheck.examples.book_model import (
    Activation_Softmax_Loss_CategoricalCrossentropy,
    Model,
    Optimizer_SGD,
    book_classifier,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 4))
Y = RNG.integers(0, 3, size=16)


def _state(model):
    return [
        (
            type(layer).__name__,
            {k: v.tobytes() for k, v in vars(layer).items() if isinstance(v, np.ndarray)},
        )
        for layer in model.layers
    ]


def test_a_correct_book_model_passes_and_is_left_as_found():
    model = book_classifier(n_inputs=4, hidden=8, classes=3)
    model.forward(X, training=True)  # a model that has run once: outputs in place
    before = _state(model)
    state = np.random.get_state()
    rep = dc.check_model(model, X, Y)
    assert rep.ok and bool(rep) and rep.first_wrong is None
    assert [i for i in rep.layer_indices] == [0, 2, 4]
    assert all(set(r.checked) == {"dweights", "dbiases"} for r in rep.layers)
    assert _state(model) == before
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2] == state[2]
    assert rep.components == {}  # layer by layer only when something is wrong


def test_regularisation_is_part_of_the_loss():
    # L2 on the first two layers: their dweights include 2*lambda*w, and pass; a model
    # whose dense layers forget the factor 2 is caught, in its first layer
    model = book_classifier(n_inputs=4, hidden=8, classes=3, l2=0.05)
    assert dc.check_model(model, X, Y).ok
    model = book_classifier(
        n_inputs=4, hidden=8, classes=3, l2=0.05, dense=broken.Dense_ForgotL2Factor
    )
    rep = dc.check_model(model, X, Y)
    assert not rep.ok and rep.first_wrong == 0
    assert str(rep).count("layer 0 (Dense_ForgotL2Factor)") >= 2
    assert "L2 regularisation" in str(rep)


def test_a_broken_activation_is_located():
    model = book_classifier(n_inputs=4, hidden=8, classes=3, relu=broken.ReLU_MaskFromDvalues)
    rep = dc.check_model(model, X, Y)
    assert not rep.ok
    assert rep.first_wrong == 1  # the first ReLU: the dense layers' own backward is right
    text = str(rep)
    assert "The first layer whose own backward is wrong is layer 1 (ReLU_MaskFromDvalues)" in text
    assert "dinputs" in text
    # the last dense layer is upstream of every ReLU and stays right
    assert rep.layers[-1].ok and not rep.layers[0].ok


class _CombinedNoDivision(Activation_Softmax_Loss_CategoricalCrossentropy):
    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1  # no division by the number of samples


def test_the_fused_softmax_loss_without_forward_is_checked_and_located():
    model = book_classifier(n_inputs=4, hidden=8, classes=3)
    model.softmax_classifier_output = _CombinedNoDivision()
    rep = dc.check_model(model, X, Y)
    assert not rep.ok and rep.first_wrong == 5
    assert "layer 5 (Activation_Softmax) with the loss" in str(rep)
    assert "batch size" in str(rep)


def test_a_list_of_layers_ending_in_a_loss():
    np.random.seed(1)
    layers = [
        book.Layer_Dense(4, 5),
        book.Activation_ReLU(),
        book.Layer_Dense(5, 3),
        book.Activation_Softmax(),
        book.Loss_CategoricalCrossentropy(),
    ]
    assert dc.check_model(layers, X, Y).ok
    layers = [
        book.Layer_Dense(4, 5),
        book.Activation_ReLU(),
        book.Layer_Dense(5, 3),
        Activation_Softmax_Loss_CategoricalCrossentropy(),
    ]
    assert dc.check_model(layers, X, Y).ok
    layers = [
        book.Layer_Dense(4, 5),
        broken.Sigmoid_MissingOutputFactor(),
        book.Layer_Dense(5, 1),
        book.Loss_MeanSquaredError(),
    ]
    rep = dc.check_model(layers, X, RNG.normal(size=(16, 1)))
    assert not rep.ok and rep.first_wrong == 1


def test_a_model_with_dropout():
    np.random.seed(2)
    model = Model()
    model.add(book.Layer_Dense(4, 8))
    model.add(book.Activation_ReLU())
    model.add(book.Layer_Dropout(0.3))
    model.add(book.Layer_Dense(8, 3))
    model.add(book.Activation_Softmax())
    model.set(loss=book.Loss_CategoricalCrossentropy(), optimizer=Optimizer_SGD())
    model.finalize()
    rep = dc.check_model(model, X, Y)
    assert rep.ok, str(rep)


def test_only_the_loss_wrong():
    np.random.seed(3)
    layers = [book.Layer_Dense(4, 3), broken.MSE_MissingFactor2()]
    rep = dc.check_model(layers, X, RNG.normal(size=(16, 3)))
    assert not rep.ok and rep.first_wrong is None
    assert "the loss's does not" in str(rep)


def test_json():
    rep = dc.check_model(book_classifier(n_inputs=4, hidden=4, classes=3), X, Y)
    data = json.loads(rep.to_json())
    assert data["kind"] == "model" and data["ok"] is True and len(data["layers"]) == 3


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (Model, "pass an instance"),
        ([book.Layer_Dense(2, 2)], "at least one layer and a loss"),
        (object(), "has no `layers`"),
    ],
)
def test_bad_models(model, words):
    with pytest.raises(dc.InputError, match=words):
        dc.check_model(model, X, Y)


def test_an_unfinalized_model():
    model = Model()
    model.add(book.Layer_Dense(4, 3))
    model.add(book.Activation_Softmax())
    model.set(loss=book.Loss_CategoricalCrossentropy())
    with pytest.raises(dc.InputError, match="finalize"):
        dc.check_model(model, X, Y)
    with pytest.raises(dc.InputError, match="one row per sample"):
        dc.check_model(book_classifier(), X, Y[:3])
