"""A classifier whose class probabilities pool several classifiers' logarithmically."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


class LogPoolClassifier(ClassifierMixin, BaseEstimator):
    """The normalized geometric mean of several classifiers' class probabilities.

    ``p(y | x) ∝ Π_k p_k(y | x)^(1/K)``: the logarithmic opinion pool (Genest and Zidek
    1986). A class is likely only where every member finds it likely, and one member's
    near-zero probability is kept rather than averaged away, which is what a label-error
    score ranks on (an arithmetic mean lets the member that believes a wrong label hide
    the one that does not).

    Parameters
    ----------
    estimators : list of (str, estimator)
        Named unfitted classifiers with ``predict_proba``; each is cloned and fitted on
        the same rows.
    floor : float, default 1e-12
        Smallest probability a member may give a class (a zero would zero the pool).
    """

    def __init__(self, estimators: list, floor: float = 1e-12) -> None:
        self.estimators = estimators
        self.floor = floor

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogPoolClassifier:
        """Fit a clone of each member on ``x`` (n_rows, n_features) and labels ``y``."""
        self.estimators_ = [clone(est).fit(x, y) for _, est in self.estimators]
        self.classes_ = self.estimators_[0].classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Pooled probabilities, shape (n_rows, n_classes), in the order of ``classes_``."""
        log_p = np.mean([np.log(np.clip(est.predict_proba(x), self.floor, 1.0))
                         for est in self.estimators_], axis=0)
        log_p -= log_p.max(axis=1, keepdims=True)
        p = np.exp(log_p)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        return self.classes_[self.predict_proba(x).argmax(axis=1)]
