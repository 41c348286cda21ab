"""rmd_baselines: classical baselines for the RealMedDial tasks.

Department routing and doctor recommendation (TF-IDF / linear / LightGBM classifiers), medical response
generation (BM25 retrieval, Kneser-Ney n-gram language models loaded by kenlm, retrieve-and-rerank), and one
metrics package that reproduces the reference scorers behind the paper's transformer numbers.
"""

__version__ = "0.1.0"
