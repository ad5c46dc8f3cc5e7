"""The learned models: an ordinal logistic model and labelled nearest neighbours.

Both return calibrated-as-measured probabilities over the five levels (SAFE..CRITICAL) and a
probability per capability. scikit-learn is imported lazily (extra ``ml``).

* :class:`OrdinalModel`: cumulative binary decomposition (Frank & Hall 2001): four
  L2-regularised logistic regressions estimate P(level > k) for k = SAFE..HIGH_RISK; the level
  probabilities are differences of the (monotonised) cumulative ones. The order of the levels is
  used, unlike a plain multinomial model, and each binary problem has more data than the rare
  classes alone. One more logistic regression per capability.
* :class:`NeighbourModel`: cosine similarity to the labelled tools' embeddings; the ``k`` most
  similar vote with weight ``exp(similarity / temperature)``, plus a small uniform prior, so the
  probabilities are never 0/1 on a handful of neighbours.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.descriptor import Capability
from tcplab.errors import MissingDependencyError

__all__ = ["CAPABILITIES", "NeighbourModel", "OrdinalModel", "Probabilities"]

CAPABILITIES = tuple(str(c.name) for c in Capability)
N_LEVELS = 5
F = npt.NDArray[np.float64]
Probabilities = tuple[F, F]  # (levels: n x 5, capabilities: n x 6)


def _logreg(c: float) -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise MissingDependencyError.for_extra(
            "scikit-learn", "ml", "the learned generators"
        ) from exc
    return LogisticRegression(C=c, max_iter=2000)


class _Constant:
    """Stands in for a binary model whose training targets are all equal."""

    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, x: F) -> F:
        return np.column_stack([np.full(len(x), 1 - self.p), np.full(len(x), self.p)])


def _fit_binary(x: F, y: npt.NDArray[np.bool_], c: float) -> Any:
    if y.all() or not y.any():
        return _Constant(float(y.mean()) if len(y) else 0.5)
    return _logreg(c).fit(x, y)


def _binary_state(m: Any) -> F:
    """One binary model as a row: ``[is_constant, p, intercept, coef...]``."""
    if isinstance(m, _Constant):
        return np.asarray([1.0, m.p, 0.0], dtype=np.float64)
    coef = np.asarray(m.coef_, dtype=np.float64).ravel()
    return np.concatenate([[0.0, 0.0, float(np.asarray(m.intercept_).ravel()[0])], coef])


def _binary_from_state(row: F, c: float, n_features: int) -> Any:
    """Rebuild a binary model from :func:`_binary_state`: the estimator's own ``predict_proba``
    runs on the stored coefficients, so a loaded model predicts bit for bit as the fitted one."""
    if row[0] == 1.0:
        return _Constant(float(row[1]))
    if len(row) != 3 + n_features:
        raise ValueError(f"binary model row has {len(row)} values, expected {3 + n_features}")
    m = _logreg(c)
    m.coef_ = row[3:].reshape(1, -1).copy()
    m.intercept_ = row[2:3].copy()
    m.classes_ = np.asarray([False, True])
    m.n_features_in_ = n_features
    m.n_iter_ = np.zeros(1, dtype=np.int32)
    return m


class OrdinalModel:
    """Cumulative-logit ordinal classifier + per-capability logistic regressions."""

    kind = "ordinal-logistic"

    def __init__(self, c: float = 0.1) -> None:
        self.c = c
        self._mean: F | None = None
        self._scale: F | None = None
        self._cum: list[Any] = []
        self._caps: list[Any] = []

    def _x(self, x: F) -> F:
        assert self._mean is not None and self._scale is not None
        return (x - self._mean) / self._scale

    def fit(self, x: F, levels: npt.NDArray[np.int64], caps: npt.NDArray[np.bool_]) -> OrdinalModel:
        """Fit on features ``x``, levels 0..4 and an ``n x 6`` capability matrix."""
        self._mean = x.mean(axis=0)
        self._scale = x.std(axis=0) + 1e-6
        xs = self._x(x)
        self._cum = [_fit_binary(xs, levels > k, self.c) for k in range(N_LEVELS - 1)]
        self._caps = [_fit_binary(xs, caps[:, j], self.c) for j in range(caps.shape[1])]
        return self

    def predict_proba(self, x: F) -> Probabilities:
        """Level probabilities (rows sum to 1) and capability probabilities."""
        xs = self._x(x)
        gt = np.column_stack([m.predict_proba(xs)[:, 1] for m in self._cum])
        gt = np.minimum.accumulate(gt, axis=1)  # P(>k) must not grow with k
        cum = np.column_stack([np.ones(len(xs)), gt, np.zeros(len(xs))])
        levels = np.clip(cum[:, :-1] - cum[:, 1:], 0.0, 1.0)
        levels /= levels.sum(axis=1, keepdims=True)
        caps = np.column_stack([m.predict_proba(xs)[:, 1] for m in self._caps])
        return levels, caps

    def params(self) -> dict[str, float]:
        """The hyperparameters (part of the model cache key)."""
        return {"c": self.c}

    def state(self) -> dict[str, F]:
        """The fitted parameters as arrays (the model cache's ``.npz``)."""
        assert self._mean is not None and self._scale is not None
        n = len(self._mean)
        rows = [_binary_state(m) for m in [*self._cum, *self._caps]]
        table = np.zeros((len(rows), 3 + n))
        for i, row in enumerate(rows):
            table[i, : len(row)] = row
        return {"mean": self._mean, "scale": self._scale, "binary": table,
                "n_cum": np.asarray([len(self._cum)], dtype=np.float64)}  # fmt: skip

    @classmethod
    def from_state(cls, params: dict[str, float], arrays: dict[str, F]) -> OrdinalModel:
        """The model :meth:`state` described (ValueError when the arrays do not fit)."""
        model = cls(c=float(params["c"]))
        mean, scale, table = arrays["mean"], arrays["scale"], arrays["binary"]
        n_cum = int(arrays["n_cum"][0])
        if mean.shape != scale.shape or table.ndim != 2 or n_cum != N_LEVELS - 1:
            raise ValueError("ordinal model arrays do not fit together")
        n = len(mean)
        rebuilt = [_binary_from_state(row, model.c, n) for row in table]
        model._mean, model._scale = mean, scale
        model._cum, model._caps = rebuilt[:n_cum], rebuilt[n_cum:]
        return model

    def digest(self) -> str:
        """sha256 of the fitted parameters (the model hash in explanation records)."""
        h = hashlib.sha256(f"{self.kind}:C={self.c}".encode())
        for arr in (self._mean, self._scale):
            h.update(np.asarray(arr, dtype=np.float64).tobytes())
        for m in [*self._cum, *self._caps]:
            if isinstance(m, _Constant):
                h.update(np.float64(m.p).tobytes())
            else:
                h.update(np.asarray(m.coef_, dtype=np.float64).tobytes())
                h.update(np.asarray(m.intercept_, dtype=np.float64).tobytes())
        return h.hexdigest()


class NeighbourModel:
    """Similarity-weighted vote of the ``k`` nearest labelled tools (cosine on embeddings)."""

    kind = "nearest-neighbours"

    def __init__(self, k: int = 7, temperature: float = 0.05, prior: float = 0.5) -> None:
        self.k, self.temperature, self.prior = k, temperature, prior
        self._x: F = np.zeros((0, 0))
        self._levels: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._caps: npt.NDArray[np.bool_] = np.zeros((0, 0), dtype=bool)

    def fit(
        self, x: F, levels: npt.NDArray[np.int64], caps: npt.NDArray[np.bool_]
    ) -> NeighbourModel:
        """Remember the labelled tools (``x``: unit embeddings)."""
        self._x, self._levels, self._caps = x, levels, caps
        return self

    def neighbours(self, x: F) -> tuple[npt.NDArray[np.int64], F]:
        """Indices (into the training tools) and similarities of the ``k`` nearest, per row."""
        sims = x @ self._x.T
        k = min(self.k, sims.shape[1])
        idx = np.argsort(-sims, axis=1)[:, :k]
        return idx, np.take_along_axis(sims, idx, axis=1)

    def predict_proba(self, x: F) -> Probabilities:
        """Level and capability probabilities from the weighted vote."""
        idx, sims = self.neighbours(x)
        w = np.exp((sims - sims.max(axis=1, keepdims=True)) / self.temperature)
        levels = np.full((len(x), N_LEVELS), self.prior / N_LEVELS)
        for j in range(idx.shape[1]):
            levels[np.arange(len(x)), self._levels[idx[:, j]]] += w[:, j]
        levels /= levels.sum(axis=1, keepdims=True)
        wn = w / w.sum(axis=1, keepdims=True)
        caps = np.einsum("nk,nkc->nc", wn, self._caps[idx].astype(np.float64))
        return levels, caps

    def params(self) -> dict[str, float]:
        """The hyperparameters (part of the model cache key)."""
        return {"k": self.k, "temperature": self.temperature, "prior": self.prior}

    def state(self) -> dict[str, npt.NDArray[Any]]:
        """The labelled set it votes with (the model cache's ``.npz``)."""
        return {"x": self._x, "levels": self._levels, "caps": self._caps}

    @classmethod
    def from_state(
        cls, params: dict[str, float], arrays: dict[str, npt.NDArray[Any]]
    ) -> NeighbourModel:
        """The model :meth:`state` described (ValueError when the arrays do not fit)."""
        model = cls(k=int(params["k"]), temperature=params["temperature"], prior=params["prior"])
        x, levels, caps = arrays["x"], arrays["levels"], arrays["caps"]
        if x.ndim != 2 or levels.shape != (len(x),) or caps.shape[0] != len(x):
            raise ValueError("neighbour model arrays do not fit together")
        model._x = x.astype(np.float64, copy=False)
        model._levels = levels.astype(np.int64, copy=False)
        model._caps = caps.astype(bool, copy=False)
        return model

    def digest(self) -> str:
        """sha256 of the parameters and the labelled set it votes with."""
        h = hashlib.sha256(f"{self.kind}:k={self.k}:t={self.temperature}:p={self.prior}".encode())
        for arr in (self._x, self._levels, self._caps):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()
