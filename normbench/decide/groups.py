"""GroupNorm's group count where nobody chose one: the rule `normbench advise` applies to a model's norm sites.

GroupNorm with G groups on C channels needs G to divide C; G = C is InstanceNorm on a map (and no statistic at
all on a feature vector: one value per group), G = 1 is normbench's LayerNorm exactly (`norms/layer.py`). The
rule keeps the GN paper's default where it is a real group norm at every site and otherwise the nearest count
that is.
"""

import math
from collections.abc import Iterable

PAPER_GROUPS = 32  # Wu & He 2018: 32 groups, whatever the channel count

GROUPS_RULE = (f"the largest count <= {PAPER_GROUPS} (the GN paper's default) that divides every norm site's "
               f"channels and leaves at least 2 channels per group at every site; 1 (= layer) only where no "
               f"other count does")


def choose_groups(channels: Iterable[int]) -> int:
    """The group count for norm sites of these channel counts, by GROUPS_RULE."""
    counts = sorted(set(channels))
    if not counts or counts[0] < 1:
        raise ValueError(f"channel counts must be positive, got {counts}")
    common = math.gcd(*counts)
    largest = min(PAPER_GROUPS, counts[0] // 2)  # a divisor of C below C is at most C/2
    return max(d for d in range(1, max(largest, 1) + 1) if common % d == 0)
