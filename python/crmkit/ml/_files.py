"""Reading saved crmkit.ml models (JSON, checked; never pickle)."""

from __future__ import annotations

import json
import os
from typing import Any, Union

from crmkit.errors import CrmError

from crmkit.ml._blend import AutoClassifier
from crmkit.ml._boosting import GradientBoostingClassifier, GradientBoostingRegressor
from crmkit.ml._estimator import _FILE_VERSION, _FORMAT
from crmkit.ml._logistic import LogisticRegression


_ESTIMATORS = {
    "GradientBoostingClassifier": GradientBoostingClassifier,
    "GradientBoostingRegressor": GradientBoostingRegressor,
    "LogisticRegression": LogisticRegression,
    "AutoClassifier": AutoClassifier,
}


def load(path: Union[str, os.PathLike[str]]) -> Any:
    """Reads a model written by ``save`` (format and version are checked).

    >>> import numpy as np, tempfile, os
    >>> X = np.arange(200, dtype=float).reshape(100, 2)
    >>> lr = LogisticRegression().fit(X, np.arange(100) % 3 == 0)
    >>> path = os.path.join(tempfile.mkdtemp(), "lr.json")
    >>> lr.save(path)
    >>> bool(np.array_equal(load(path).predict_proba(X), lr.predict_proba(X)))
    True
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise CrmError(f"cannot read a crmkit model from {str(path)!r}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise CrmError(f"{str(path)!r} is not a crmkit.ml model file (format {doc.get('format') if isinstance(doc, dict) else None!r})")
    if doc.get("version") != _FILE_VERSION:
        raise CrmError(
            f"{str(path)!r}: model file version {doc.get('version')!r} is not supported by this crmkit (expects {_FILE_VERSION})"
        )
    name = doc.get("estimator")
    cls = _ESTIMATORS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CrmError(f"{str(path)!r}: unknown estimator {name!r}")
    if not isinstance(doc.get("params"), dict) or not isinstance(doc.get("fitted"), dict):
        raise CrmError(f"{str(path)!r}: the model file is incomplete or damaged ('params' and 'fitted' must be objects)")
    classes = doc["fitted"].get("classes")
    if classes is not None and not (isinstance(classes, list) and len(classes) >= 2
                                    and all(isinstance(c, (int, float, str)) for c in classes)):
        raise CrmError(f"{str(path)!r}: the model file is damaged ('classes' must list the class labels)")
    try:
        est = cls(**doc["params"])
        est._restore(doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        if isinstance(exc, CrmError):
            raise
        raise CrmError(f"{str(path)!r}: the model file is incomplete or damaged ({type(exc).__name__}: {exc})") from exc
    return est
