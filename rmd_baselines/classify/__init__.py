"""Department routing and doctor recommendation: TF-IDF features (characters and jieba words), one shared
scikit-learn-style text classifier with linear, naive Bayes, LightGBM and ensemble heads, the `DepartmentRouter`
and `DoctorRecommender` built on it, saving/loading without pickle, training and evaluation on corpus files."""

from .classifier import DepartmentRouter, DoctorRecommender, TextClassifier, load_model
from .features import TextFeaturizer, TokenizedText, tokenize_texts
from .presets import DEFAULT_MODELS, PRESETS
from .training import default_estimator, fit_on_data, save_model, train_model

__all__ = ["TextClassifier", "DepartmentRouter", "DoctorRecommender", "load_model", "TextFeaturizer",
           "TokenizedText", "tokenize_texts", "DEFAULT_MODELS", "PRESETS", "default_estimator", "fit_on_data",
           "save_model", "train_model"]
