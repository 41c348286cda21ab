"""Packaging for rmd_baselines: classical baselines for the RealMedDial tasks."""
import re
from pathlib import Path

from setuptools import Extension, find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "rmd_baselines" / "__init__.py").read_text("utf-8")).group(1)

setup(
    name="rmd_baselines",
    version=VERSION,
    description="Classical, CPU-only baselines for the RealMedDial tasks: department routing, "
    "doctor recommendation and medical response generation, with the paper's metrics.",
    long_description=(HERE / "README.md").read_text("utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["rmd_baselines", "rmd_baselines.*"]),
    package_data={"rmd_baselines": ["data/*", "report/*.css", "serve/*.html"]},
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "scikit-learn>=1.3",
        "jieba>=0.42",
        "lightgbm>=4.0",
        "click>=8.1",
        # kenlm's Python module is compiled from source by pip (needs a C++ compiler).
        "kenlm>=0.2",
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6", "sacrebleu>=2.3", "nltk>=3.8", "bm25s>=0.2"],
        "bench": ["fasttext>=0.9.2", "bm25s>=0.2", "rank-bm25>=0.2"],
        "plot": ["matplotlib>=3.7"],
    },
    # The compiled inner loops of the BM25 search (rmd_baselines/respond/bm25.py has the numpy reference; it is used
    # when this module is missing). No fused multiply-add, so that both give the same numbers.
    ext_modules=[Extension("rmd_baselines.respond._bm25_kernels", ["rmd_baselines/respond/_bm25_kernels.c"],
                           extra_compile_args=["-O2", "-ffp-contract=off"])],
    entry_points={"console_scripts": ["rmd-baseline=rmd_baselines.cli.main:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Natural Language :: Chinese (Simplified)",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
