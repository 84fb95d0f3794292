"""grokjax: vmapped JAX sweeps for studying grokking."""
from setuptools import find_packages, setup

setup(
    name="grokjax",
    version="0.1.0",
    description="Reproducing grokking papers with jitted, vmapped JAX sweeps.",
    packages=find_packages(include=["grokjax", "grokjax.*"]),
    python_requires=">=3.10",
    install_requires=[
        "jax>=0.4.30",
        "flax>=0.8",
        "optax>=0.2.2",
        "chex>=0.1.86",
        "orbax-checkpoint>=0.6",
        "numpy>=1.24",
        "matplotlib>=3.7",
        "absl-py>=2.0",
        "tqdm>=4.60",
        "pandas>=2.0",  # summary tables (inspect, reproductions)
        "scipy>=1.10",  # Spearman correlation (sharpness vs accuracy)
        "scikit-learn>=1.3",  # t-SNE of embeddings
    ],
    # bench: benchmarks/pytorch_baseline.py's plain PyTorch loop (grokjax itself never imports torch).
    # tensorboard: --tensorboard's event files (imported only then); the tests check them too.
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3", "tensorboardX>=2.6"], "bench": ["torch>=2.0"],
                    "tensorboard": ["tensorboardX>=2.6"]},
)
