"""Correction priority of every filter (paper §4.1, Eq. 1, Algorithm 1), exact and batched, for any CNN.

τ(i, j) = p_swp(i, j) − p_b: the gain in top-1 on the ranking set when the output of filter j of conv layer i
is replaced by its clean value while the rest of the network sees the distorted image.

The fast path never runs the whole network per filter. The model is traced with ``torch.fx`` (BN folded into
the conv before it); one pass over the clean and one over the distorted images keep every ranked layer's
output and every prefix value its suffix needs; then ``chunk_filters`` swapped copies of layer i's output are
stacked into one batch and only the suffix after layer i runs on it, with the prefix values it needs (skip
connections included) repeated alongside, in NHWC, ReLUs in place. Where only per-channel maps (BN, ReLU,
pooling) lead to the next conv, that conv is not rerun either: a swap adds one channel's contribution to its
distorted output. The tests check that the correct-prediction counts equal those of the literal algorithm
(:func:`literal_counts`), which stays as the fallback for models ``torch.fx`` cannot trace.

The modules: :mod:`.algorithm` (Algorithm 1's loop, what is ranked and on which images), :mod:`.counters`
(the fast and the literal count of one batch, behind one interface), :mod:`.suffix` (the ``torch.fx`` engine
of the fast one), :mod:`.result` (the counts and the scores read from them), :mod:`.selection` (local and
global choice of the filters to correct), :mod:`.ideal` (ideal correction, Figures 4–5) and :mod:`.cost`
(the MAC cost model the benchmarks compare against).
"""

from .algorithm import rank_filters, ranked_layers, ranking_set
from .counters import literal_counts
from .ideal import ideal_accuracy, ideal_curve
from .result import Ranking, compare_counts
from .selection import n_selected, select_global, select_local

__all__ = ["Ranking", "compare_counts", "ideal_accuracy", "ideal_curve", "literal_counts", "n_selected",
           "rank_filters", "ranked_layers", "ranking_set", "select_global", "select_local"]
