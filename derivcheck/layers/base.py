"""The state one layer check carries, shared by its contract, strategy and
reference steps (:mod:`~derivcheck.layers.contracts`,
:mod:`~derivcheck.layers.strategies`, :mod:`~derivcheck.layers.trace.reference`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from derivcheck.layers import compress
from derivcheck.layers import report as msg
from derivcheck.layers.adapters import Adapter, CheckFailed, ConventionError
from derivcheck.layers.report import Failure, TensorCheck
from derivcheck.layers.state import put_back

#: ``mode="auto"`` checks every entry only when at most this many entries cannot be grouped
#: by Jacobian compression (and the whole check is estimated to fit its time budget).
FULL_CHECK_LIMIT = 20_000
#: Gaussian directional probes, each over every entry of every tensor at once, in the
#: directional strategy (a tensor is probed on its own only when one of them disagrees);
#: every second direction is the one before turned a quarter (``fd.probes.quarter_turn``).
JOINT_PROBES = 2
#: Entries per tensor sampled and checked one by one in the directional strategy, for
#: entry-level numbers in the report: the probes already cover every entry, and a wrong
#: one is localised when a probe disagrees.  One: four per tensor were 24 of a check's 41
#: forwards, the largest share of its cost at every size, for numbers the probes vouch for.
SAMPLED_ENTRIES = 1
#: The sample of a tensor whose probes all straddle a kink (and so decide nothing).
FALLBACK_ENTRIES = 32
#: The symbolic reference is tried only up to this many entries in all.
SYMBOLIC_LIMIT = 500
#: Wrong entries per tensor listed in ``LayerReport.failures``.
MAX_FAILURES_PER_TENSOR = 100
#: "nothing here" where None is a value (a forward may return None)
NONE: Any = object()
PROBE_SALT = 0x6463  # mixed into the seed of every probe direction; see _Check.__init__


class CheckBase:
    """Attributes and failure helpers of a check; the steps are mixins."""

    # set by the check once the layer's kind is known (before any step uses them)
    probe: Callable[[], float]
    param_copies: dict[str, np.ndarray]
    #: the report's title, when not the layer's class name (a function's name)
    subject: str | None = None
    #: what the layer held at the start (:class:`~derivcheck.layers.state.Snapshot`)
    snapshot: Any = None
    #: the probe's value at the point, read off the forward before backward (or None)
    f_point: float | None = None

    def __init__(
        self,
        layer: Any,
        x: np.ndarray,
        y_true: np.ndarray | None,
        *,
        params: Sequence[str] | None,
        reference: str,
        mode: str,
        seed: int,
        rtol: float | None,
        atol: float | None,
        forward_kwargs: dict[str, Any],
        penalty: Callable[[Any], Any] | None,
        cached_gaussian: bool = True,
        progress: Callable[[str, int, int], None] | None = None,
        differentiate_inputs: bool = True,
        unit_probe: bool = False,
        batch: int | None = None,
        full_limit: int = FULL_CHECK_LIMIT,
        full_budget: float | None = None,
    ) -> None:
        self.layer = layer
        # False: the inputs pass through unchanged (integer ids, or a function check whose
        # differentiated arguments are all parameters of the wrapper); only parameters count
        self.differentiate_inputs = differentiate_inputs
        # True: the probe's G is 1 (the output is a scalar value, e.g. check_value_and_grad)
        self.unit_probe = unit_probe
        # mode="auto" checks every entry up to this many (fewer when one probe costs more)
        self.full_limit = full_limit
        # ... and only when it is estimated to take at most this many seconds
        # (the module's value read now: setting compress.FULL_SECONDS changes the default)
        self.full_budget = compress.FULL_SECONDS if full_budget is None else full_budget
        self.batch = batch if batch is not None else (len(x) if x.ndim else 1)
        self.progress = progress
        self.cached_gaussian = cached_gaussian
        self.x = x
        self.x0 = x.copy()
        #: the point's rms per array range and |g|^2 per gradient, shared by the probes
        self.rms_cache: dict[tuple[int, int, int], tuple[np.ndarray, float]] = {}
        self.squares: dict[tuple[int, int, tuple[int, ...]], tuple[Any, float]] = {}
        self.y_true = y_true
        self.y0 = None if y_true is None else y_true.copy()
        self.explicit_params = params
        self.reference = reference
        self.mode = mode
        self.seed = seed
        self.rtol, self.atol = rtol, atol
        # salted so the probe is never the stream a user draws inputs from with the same
        # seed: default_rng(0) inputs with G == inputs made x.T @ G symmetric and hid a
        # transposed dweights
        self.rng = np.random.default_rng([seed, PROBE_SALT])
        self.failures: list[Failure] = []
        self.notes: list[str] = []
        self.tensors: dict[str, TensorCheck] = {}
        self.adapter = Adapter(layer, x, y_true, dict(forward_kwargs))
        self.user_penalty = penalty
        self.strategy = msg.STRATEGY_FULL
        self.nfev = 0
        self.eps = (
            float(np.finfo(x.dtype).eps) if x.dtype.kind == "f" else float(np.finfo(np.float64).eps)
        )
        self.dtype = str(x.dtype) if x.dtype.kind == "f" else "float64"
        self.first_output: np.ndarray = np.zeros(0)
        #: what the first forward returned, while the layer is as a forward at the point
        #: leaves it (a forward that draws nothing): the first backward follows it directly
        self.first_returned: Any = NONE
        #: the first backward changed none of the arrays it was given or read
        self.backward_clean = False
        # tensors checked by Jacobian compression (layers.compress), and the probe's terms
        self.structures: dict[str, Any] = {}
        self.blocks: Callable[[], np.ndarray] | None = None
        # the progress callback's position: evaluations planned before this tensor, in all
        self.progress_base = 0
        self.progress_total = 1
        self.full_check = True  # every entry (dense per-entry arrays), or directional
        #: the error-vs-step curve of the worst wrong entry (layers.stepcurve), if any
        self.step_curve: dict[str, Any] | None = None
        self.params: list[str] = []

    def _put_back_all(self) -> None:
        """The inputs and every parameter back to the values the check started from."""
        np.copyto(self.x, self.x0)
        for name, saved in self.param_copies.items():
            put_back(getattr(self.layer, name), saved)

    def fail(self, tensor: str, kind: str, message: str) -> None:
        self.failures.append(Failure(tensor, (), None, None, None, None, kind, message))

    def call(self, where: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ConventionError as exc:  # a wrapper's own words: what came back, what was due
            self.fail(where, "contract", str(exc))
            raise CheckFailed from exc
        except Exception as exc:
            self.fail(where, "exception", msg.msg_exception(where, exc))
            raise CheckFailed from exc
