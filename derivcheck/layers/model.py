"""Whole models: :func:`check_model` checks every trainable layer's gradients against
central differences of the model's total loss and, when some are wrong, checks
each layer's own backward on the inputs it receives inside the model, to name
the first one that is wrong.

Two forms of model are understood: the book's ``Model`` (chapters 18–22:
``forward(X, training)``, ``backward(output, y)``, a ``loss`` whose
``regularization_loss()`` covers the trainable layers, and the combined softmax
+ cross-entropy used for the backward when the model ends in a softmax), and a
plain list of layers whose last item is a loss.

Examples
--------
>>> import numpy as np
>>> from derivcheck.examples.book_model import book_classifier
>>> model = book_classifier(n_inputs=3, hidden=5, classes=3, seed=0)
>>> X = np.random.default_rng(0).normal(size=(6, 3))
>>> y = np.array([0, 1, 2, 0, 1, 2])
>>> rep = check_model(model, X, y)
>>> rep.ok, rep.first_wrong, [r.subject for r in rep.layers]
(True, None, ['layer 0 (Layer_Dense)', 'layer 2 (Layer_Dense)', 'layer 4 (Layer_Dense)'])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from derivcheck._json import SCHEMA_VERSION, dumps
from derivcheck.errors import InputError
from derivcheck.layers.adapters import (
    ConventionError,
    as_float_array,
    book_penalty,
    candidate_params,
    has_regularizers,
    is_combined_without_forward,
    mean_cross_entropy,
    softmax,
    takes_training,
)
from derivcheck.layers.check import check_layer, check_options, run_wrapper
from derivcheck.layers.report import LayerReport
from derivcheck.layers.state import Snapshot

__all__ = ["ModelReport", "check_model"]

#: mode="auto": a layer's parameters are checked entry by entry while that costs at most
#: about this many seconds of model evaluations (directional probes above)
FULL_SECONDS = 0.25


def _label(index: int, layer: Any) -> str:
    return f"layer {index} ({type(layer).__name__})"


class _Driver:
    """Runs one model: the total loss at the current parameters, and its backward."""

    def __init__(self, model: Any, X: np.ndarray, y: np.ndarray) -> None:
        self.model, self.X, self.y = model, X, y
        self.book = not isinstance(model, list | tuple)
        if self.book:
            self.layers = list(model.layers)
            self.loss = model.loss
            self.combined = getattr(model, "softmax_classifier_output", None)
        else:
            self.layers = list(model[:-1])
            self.loss = model[-1]
            self.combined = self.loss if is_combined_without_forward(self.loss) else None
        self.training = [takes_training(layer.forward, {}) for layer in self.layers]
        self.output: Any = None
        trainable = getattr(model, "trainable_layers", None) if self.book else None
        self.trainable = list(trainable) if trainable is not None else self.layers

    def _forward_layers(self) -> Any:
        if self.book:
            return self.model.forward(self.X, training=True)
        x = self.X
        for layer, training in zip(self.layers, self.training, strict=True):
            if training:
                layer.forward(x, True)
            else:
                layer.forward(x)
            x = layer.output
        return x

    def regularization(self) -> Any:
        reg = getattr(self.loss, "regularization_loss", None)
        if self.book and callable(reg):
            try:
                return reg()  # the final chapters: over remember_trainable_layers
            except TypeError:
                pass
        total: Any = 0.0
        for layer in self.trainable:
            if has_regularizers(layer):
                total = total + book_penalty(layer)
        return total

    def total_loss(self) -> Any:
        out = self._forward_layers()
        self.output = out
        if self.book:
            data = np.mean(self.loss.forward(out, self.y))
        elif self.combined is not None:
            data = mean_cross_entropy(softmax(out), self.y)
        else:
            value = self.loss.forward(out, self.y)
            data = np.mean(value) if np.size(value) > 1 else value
        return data + self.regularization()

    def backward(self) -> None:
        if self.book:
            self.model.backward(self.output, self.y)
            return
        if self.combined is not None:
            self.combined.backward(softmax(self.output), self.y)
            upstream = self.combined.dinputs
        elif (
            callable(getattr(self.loss, "forward", None))
            and getattr(self.loss, "output", None) is not None
            and np.shape(self.loss.output) == np.shape(self.output)
        ):
            self.loss.backward(self.loss.output, self.y)  # a combined loss with a forward
            upstream = self.loss.dinputs
        else:
            self.loss.backward(self.output, self.y)
            upstream = self.loss.dinputs
        for layer in reversed(self.layers):
            layer.backward(upstream)
            upstream = layer.dinputs


class _LayerInModel:
    """One trainable layer's parameters seen from the model's total loss."""

    _dc_driver: _Driver
    _dc_layer: Any
    _dc_names: list[str]

    def __init__(self, driver: _Driver, layer: Any, names: list[str]) -> None:
        d = self.__dict__
        d["_dc_driver"], d["_dc_layer"], d["_dc_names"] = driver, layer, names
        for name in names:
            d[name] = getattr(layer, name)  # the very arrays the layer reads

    def forward(self, inputs: Any) -> None:
        value = self._dc_driver.total_loss()
        self.output = np.asarray(value, dtype=np.float64).reshape(())

    def backward(self, dvalues: np.ndarray) -> None:
        layer = self._dc_layer
        before = {}
        for name in self._dc_names:
            g = vars(layer).get("d" + name)
            if isinstance(g, np.ndarray):
                before[name] = (g, g.tobytes())
        self._dc_driver.backward()
        for name in self._dc_names:
            g = vars(layer).get("d" + name)
            old = before.get(name)
            if old is not None and g is old[0] and g.tobytes() == old[1]:
                continue  # not set by this backward: reported as missing
            if g is None:
                continue
            if not isinstance(g, np.ndarray):
                raise ConventionError(
                    f"{type(layer).__name__}.backward set d{name} to a {type(g).__name__}; "
                    "an array was expected."
                )
            self.__dict__["d" + name] = g if float(dvalues) == 1.0 else g * dvalues


@dataclass
class ModelReport:
    """The result of :func:`check_model`: one :class:`LayerReport` per trainable layer
    (``layers``), and, when some are wrong, the checks of each layer's own backward
    (``components``) and the index of the first wrong one (``first_wrong``)."""

    subject: str
    layers: list[LayerReport]
    layer_indices: list[int]
    first_wrong: int | None = None
    components: dict[str, LayerReport] = field(default_factory=dict)
    seed: int = 0
    mode: str = "auto"
    notes: list[str] = field(default_factory=list)
    kind: str = "model"

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.layers)

    def __bool__(self) -> bool:
        return self.ok

    def _summary(self, report: LayerReport) -> str:
        if report.ok:
            parts = ", ".join(f"{n} {c}" for n, c in report.checked.items())
            return f"  {report.subject}: OK ({parts})"
        bad = [
            f"{name} {t.n_mismatched} of {t.n_checked} wrong"
            for name, t in report.tensors.items()
            if t.n_mismatched
        ]
        problems = sorted({f.tensor for f in report.failures if f.kind != "mismatch"})
        bad += [
            f"{p} ({'; '.join(f.kind for f in report.failures if f.tensor == p)})" for p in problems
        ]
        return f"  {report.subject}: FAILED ({', '.join(bad)})"

    def __str__(self) -> str:
        title = f"{self.subject}: {'OK' if self.ok else 'FAILED'} (seed={self.seed})"
        lines = [title]
        lines.append(
            "Each trainable layer's gradients against central differences of the model's "
            "total loss (data loss + regularisation):"
        )
        lines += [self._summary(r) for r in self.layers]
        if self.ok:
            return "\n".join(lines + self.notes)
        blocks = ["\n".join(lines)]
        if self.first_wrong is not None:
            label = next(k for k in self.components if k.startswith(f"layer {self.first_wrong} "))
            own = self.components[label]
            blocks.append(
                f"The first layer whose own backward is wrong is {label}, checked alone on "
                "the inputs it receives in the model:\n" + _indent(str(own))
            )
        else:
            loss_reports = [r for k, r in self.components.items() if not k.startswith("layer ")]
            wrong_loss = next((r for r in loss_reports if not r.ok), None)
            if wrong_loss is not None:
                blocks.append(
                    "Every layer's own backward passes its check; the loss's does not:\n"
                    + _indent(str(wrong_loss))
                )
            else:
                blocks.append(
                    "Every layer's own backward, and the loss's, passes its check on the "
                    "inputs it receives in this batch: the fault is in how the model joins "
                    "them (its backward pass, or the regularisation in the loss)."
                )
                first = next(r for r in self.layers if not r.ok)
                blocks.append(str(first))
        if self.notes:
            blocks.append("\n".join(self.notes))
        return "\n\n".join(blocks)

    def _repr_html_(self) -> str:  # Jupyter
        from derivcheck import _display

        return _display.model_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython: the text report
        p.text(repr(self) if cycle else str(self))

    def __repr__(self) -> str:
        return (
            f"<ModelReport {self.subject}: {'ok' if self.ok else 'failed'}, "
            f"{len(self.layers)} trainable layers, first_wrong={self.first_wrong}>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "schema_version": SCHEMA_VERSION,
            "verdict": "ok" if self.ok else "failed",
            "subject": self.subject,
            "ok": self.ok,
            "seed": self.seed,
            "mode": self.mode,
            "first_wrong": self.first_wrong,
            "layers": [
                {"index": i, **r.to_dict()}
                for i, r in zip(self.layer_indices, self.layers, strict=True)
            ],
            "components": {k: r.to_dict() for k, r in self.components.items()},
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return dumps(self.to_dict())


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


def _validate_model(model: Any) -> None:
    if isinstance(model, list | tuple):
        if len(model) < 2:
            raise InputError("check_model: a list needs at least one layer and a loss.")
        for i, layer in enumerate(model[:-1]):
            for method in ("forward", "backward"):
                if not callable(getattr(layer, method, None)):
                    raise InputError(
                        f"check_model: item {i} ({type(layer).__name__}) has no {method} method."
                    )
        if not callable(getattr(model[-1], "backward", None)):
            raise InputError(
                f"check_model: the last item ({type(model[-1]).__name__}) must be a loss with "
                "forward(y_pred, y_true) and backward(dvalues, y_true)."
            )
        return
    if isinstance(model, type):
        raise InputError(
            f"check_model: got the class {model.__name__}; pass an instance (a built model)."
        )
    for attr in ("layers", "forward", "backward"):
        if not hasattr(model, attr):
            raise InputError(
                f"check_model: {type(model).__name__} has no `{attr}`; expected the book's "
                "Model (add / set / finalize) or a list of layers ending in a loss."
            )
    if getattr(model, "loss", None) is None:
        raise InputError("check_model: the model has no loss; call model.set(loss=...) first.")
    if not hasattr(model, "input_layer") and not callable(getattr(model, "finalize", None)):
        raise InputError("check_model: the model is not finalized.")
    if not hasattr(model, "input_layer"):
        raise InputError("check_model: call model.finalize() before checking the model.")


def _parameters(driver: _Driver) -> list[tuple[int, Any, list[str]]]:
    """(index, layer, parameter names) of every trainable layer, found by one forward and
    backward: the book's criterion (a ``weights`` attribute: weights and biases), or, for
    other layers, the floating arrays that got a gradient."""
    driver.total_loss()
    driver.backward()
    found = []
    for i, layer in enumerate(driver.layers):
        if isinstance(getattr(layer, "weights", None), np.ndarray):
            names = [
                n for n in ("weights", "biases") if isinstance(getattr(layer, n, None), np.ndarray)
            ]
        else:
            attrs = vars(layer) if hasattr(layer, "__dict__") else {}
            names = [
                n
                for n in candidate_params(layer)
                if isinstance(attrs.get("d" + n), np.ndarray) and n not in ("inputs", "output")
            ]
        if names:
            found.append((i, layer, names))
    return found


def _evaluation_seconds(driver: _Driver) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        driver.total_loss()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _own_checks(
    driver: _Driver, options: dict[str, Any]
) -> tuple[dict[str, LayerReport], int | None]:
    """Each layer's own backward, on the inputs it receives in the model; then the loss."""
    inputs = []
    x = driver.X
    for layer, training in zip(driver.layers, driver.training, strict=True):
        inputs.append(np.array(x, copy=True))
        if training:
            layer.forward(x, True)
        else:
            layer.forward(x)
        x = layer.output
    reports: dict[str, LayerReport] = {}
    first: int | None = None
    last = len(driver.layers) - 1
    for i, layer in enumerate(driver.layers):
        if driver.combined is not None and driver.book and i == last:
            # the model's backward never calls the softmax's own backward: the fused
            # softmax + cross-entropy stands in for both
            label = f"layer {i} ({type(layer).__name__}) with the loss"
            rep = check_layer(driver.combined, inputs[i], driver.y, **options)
        else:
            label = _label(i, layer)
            rep = check_layer(layer, inputs[i], **options)
        rep.subject = label
        reports[label] = rep
        if first is None and not rep.ok:
            first = i
    if driver.combined is None or not driver.book:
        loss = driver.loss
        label = f"loss ({type(loss).__name__})"
        rep = check_layer(loss, np.array(x, copy=True), driver.y, **options)
        rep.subject = label
        reports[label] = rep
    return reports, first


def check_model(
    model: Any,
    X: Any,
    y: Any,
    *,
    reference: str = "numeric",
    mode: str = "auto",
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ModelReport:
    """Check a whole model's backward against central differences of its total loss.

    Parameters
    ----------
    model : the book's Model, or a list of layers ending in a loss
        A finalized ``Model`` (chapters 18–22), whose loss includes the layers'
        regularisation; or ``[layer, ..., loss]`` where the loss is a book loss
        (``forward(y_pred, y_true)``, ``backward(dvalues, y_true)``) or the
        combined softmax + cross-entropy.
    X, y : array_like
        A batch and its labels.
    reference, mode, seed, rtol, atol, progress
        As for :func:`~derivcheck.layers.check.check_layer`; ``mode="auto"``
        checks a layer entry by entry while that takes about
        :data:`FULL_SECONDS` of model evaluations, by directional probes above.

    Returns
    -------
    ModelReport
        ``ok``; ``layers``, one report per trainable layer, named
        ``"layer <index> (<class>)"``; ``first_wrong``, the index into the model's
        layers of the first one whose own backward is wrong (None when all are
        right, or when only the loss or the wiring is wrong); ``components``.
        The model, its layers and numpy's random state are left as they were.
    """
    _validate_model(model)
    check_options(reference, mode, seed, rtol, atol)
    x = as_float_array("X", X)
    labels = np.array(y, copy=True)
    if labels.dtype.kind not in "biuf" or labels.ndim == 0 or len(labels) != len(x):
        raise InputError(
            f"`y` must be numeric with one row per sample: X has {len(x)}, y has shape "
            f"{labels.shape}."
        )
    options = {"reference": reference, "mode": mode, "seed": int(seed), "rtol": rtol, "atol": atol}
    snapshot = Snapshot(model if not isinstance(model, list | tuple) else _Holder(model))
    notes: list[str] = []
    try:
        with np.errstate(all="ignore"):
            driver = _Driver(model, x, labels)
            try:
                trainable = _parameters(driver)
                seconds = _evaluation_seconds(driver)
            except Exception as exc:
                raise InputError(
                    f"check_model: the model's forward or backward raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            full_limit = max(64, int(FULL_SECONDS / max(4 * seconds, 1e-7)))
            reports, indices = [], []
            for n, (i, layer, names) in enumerate(trainable):
                if progress is not None:
                    progress(_label(i, layer), n, len(trainable))
                wrapper = _LayerInModel(driver, layer, names)
                rep = run_wrapper(
                    wrapper,
                    names,
                    batch=len(x),
                    subject=_label(i, layer),
                    full_limit=full_limit,
                    unit_probe=True,
                    **options,
                )
                reports.append(rep)
                indices.append(i)
            if progress is not None:
                progress("done", len(trainable), len(trainable))
            components: dict[str, LayerReport] = {}
            first = None
            if not all(r.ok for r in reports):
                components, first = _own_checks(driver, options)
            if not trainable:
                notes.append("Note: the model has no trainable layer; nothing was checked.")
    finally:
        snapshot.restore()
    return ModelReport(
        subject=type(model).__name__ if not isinstance(model, list | tuple) else "layers",
        layers=reports,
        layer_indices=indices,
        first_wrong=first,
        components=components,
        seed=int(seed),
        mode=mode,
        notes=notes,
    )


class _Holder:
    """Lets a Snapshot cover the layers of a plain list."""

    def __init__(self, items: list[Any] | tuple[Any, ...]) -> None:
        self.items = list(items)
