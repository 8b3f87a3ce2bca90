"""Equivalence on accuracy: two one-sided tests (TOST, Schuirmann 1987).

Two norms are *equivalent* within a margin δ when the (1 − 2α) Welch interval of the difference of their means
lies inside [−δ, +δ] (α = 0.05: the 90% interval). A ceiling (every seed of both at 100%) is equivalent: the
difference is exactly 0.
"""

import numpy as np

from normbench.decide.stats import welch_contrast

EQUIVALENCE_MARGIN = 0.01  # 1 pp of accuracy
ALPHA = 0.05


def equivalent(a, b, margin: float = EQUIVALENCE_MARGIN, alpha: float = ALPHA) -> bool:
    """Whether mean(a) − mean(b) is shown within ±margin (False with fewer than two values on either side)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        return False
    contrast = welch_contrast([(a, 1.0), (b, -1.0)], 1 - 2 * alpha)
    return -margin <= contrast.low and contrast.high <= margin
