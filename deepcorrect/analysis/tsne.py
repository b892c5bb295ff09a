"""Two-dimensional t-SNE embeddings of deep features (scikit-learn)."""

from __future__ import annotations

import numpy as np


def embed(features: np.ndarray, seed: int = 0, perplexity: float = 30.0, iterations: int = 1000) -> np.ndarray:
    """(N, 2) t-SNE of standardised ``features`` with PCA initialisation and ``iterations`` optimisation
    steps (its cost is proportional to them); deterministic for a seed."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float32)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    if x.shape[1] > 50 and len(x) > 50:  # PCA to 50 dimensions first, where there are more than 50 points
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    perplexity = min(perplexity, max(2.0, (len(x) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, max_iter=iterations,
                n_jobs=1).fit_transform(x).astype(np.float32)
