"""The scikit-learn estimator protocol shared by the text classifiers (`TextClassifier`, `StreamedClassifier`):
hyper-parameters are the ``__init__`` keywords, so `get_params`/`set_params`/`repr` and scikit-learn's tags work
the same way for both, and both drop into `Pipeline`/`GridSearchCV`."""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import UsageError


class ClassifierParams:
    """`get_params`, `set_params`, a repr of the changed parameters and the classifier tags."""

    @classmethod
    def _param_names(cls) -> list[str]:
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise UsageError(f"{type(self).__name__} has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k].default]
        return f"{type(self).__name__}({', '.join(changed)})"

    _estimator_type = "classifier"

    def __sklearn_tags__(self):
        # Only scikit-learn calls this (GridSearchCV, cross_val_score), so importing it here costs nothing else.
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags(two_d_array=False, string=True))
