"""Points at which the CS231n-style examples are checked: forward, backward and args."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from derivcheck.examples import cs231n as c


def cases(seed: int = 0) -> dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple]]:
    rng = np.random.default_rng(seed)
    n = rng.normal
    return {
        "affine": (
            c.affine_forward,
            c.affine_backward,
            (n(size=(4, 2, 3)), n(size=(6, 3)), n(size=3)),
        ),
        "relu": (c.relu_forward, c.relu_backward, (n(size=(4, 5)),)),
        "batchnorm": (
            c.batchnorm_forward,
            c.batchnorm_backward,
            (n(size=(4, 5)), n(size=5), n(size=5), {"mode": "train"}),
        ),
        "batchnorm_test": (
            c.batchnorm_forward,
            c.batchnorm_backward,
            (
                n(size=(4, 5)),
                n(size=5),
                n(size=5),
                {"mode": "test", "running_mean": n(size=5), "running_var": rng.uniform(1, 2, 5)},
            ),
        ),
        "layernorm": (
            c.layernorm_forward,
            c.layernorm_backward,
            (n(size=(4, 5)), n(size=5), n(size=5), {}),
        ),
        "dropout": (
            c.dropout_forward,
            c.dropout_backward,
            (n(size=(4, 5)), {"p": 0.6, "mode": "train", "seed": 123}),
        ),
        "dropout_unseeded": (
            c.dropout_forward,
            c.dropout_backward,
            (n(size=(4, 5)), {"p": 0.6, "mode": "train"}),
        ),
        "conv": (
            c.conv_forward_naive,
            c.conv_backward_naive,
            (n(size=(2, 3, 5, 5)), n(size=(2, 3, 3, 3)), n(size=2), {"stride": 2, "pad": 1}),
        ),
        "max_pool": (
            c.max_pool_forward_naive,
            c.max_pool_backward_naive,
            (n(size=(2, 2, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2}),
        ),
        "rnn": (
            c.rnn_step_forward,
            c.rnn_step_backward,
            (n(size=(3, 4)), n(size=(3, 5)), n(size=(4, 5)), n(size=(5, 5)), n(size=5)),
        ),
        "lstm": (
            c.lstm_step_forward,
            c.lstm_step_backward,
            (
                n(size=(3, 4)),
                n(size=(3, 5)),
                n(size=(3, 5)),
                n(size=(4, 20)),
                n(size=(5, 20)),
                n(size=20),
            ),
        ),
        "word_embedding": (
            c.word_embedding_forward,
            c.word_embedding_backward,
            (np.array([[0, 3, 1], [3, 3, 2]]), n(size=(5, 4))),
        ),
    }


#: which broken variant of derivcheck.examples.cs231n_broken is checked at which case
BROKEN_AT = {
    "affine_transposed_dw": "affine",
    "affine_mean_db": "affine",
    "relu_no_dout": "relu",
    "batchnorm_no_mean_term": "batchnorm",
    "layernorm_batch_axis": "layernorm",
    "dropout_unscaled": "dropout",
    "conv_stride_one": "conv",
    "max_pool_spread": "max_pool",
    "rnn_prev_h": "rnn",
    "lstm_no_h_path": "lstm",
    "word_embedding_fancy": "word_embedding",
}
