"""The group count `normbench advise` gives GroupNorm from a model's norm sites (normbench/decide/groups.py)."""

import pytest

from normbench.decide.groups import PAPER_GROUPS, choose_groups


@pytest.mark.parametrize("channels, groups", [
    ([64, 128, 256, 512], 32),  # a ResNet: the GN paper's 32 divides every site and leaves >= 2 channels per group
    ([16, 16, 16], 8),  # 16 would be one channel per group: instance norm, not group norm
    ([25, 25, 25], 5),  # the MNIST-1D CNN: 25's divisors are 1, 5, 25
    ([32, 32], 16),
    ([100, 100], 25),  # the MLP's hidden layers
    ([16, 24, 40], 8),  # MobileNet's sites: the largest common divisor
    ([24, 36], 12),
    ([16, 25], 1),  # nothing but 1 divides both: layer norm
    ([7, 7], 1),  # 7 groups of 7 would be one channel each
    ([2], 1),
])
def test_groups_follow_the_stated_rule(channels, groups):
    assert choose_groups(channels) == groups


@pytest.mark.parametrize("channels", [[1], [3, 9, 27], [48, 96], [64] * 5, [6, 10, 14], [100, 60], [1024, 2048]])
def test_groups_divide_every_site_at_most_32_with_two_channels_per_group(channels):
    groups = choose_groups(channels)
    assert all(count % groups == 0 for count in channels) and groups <= PAPER_GROUPS
    assert groups == 1 or all(count // groups >= 2 for count in channels)
    larger = [g for g in range(groups + 1, PAPER_GROUPS + 1)
              if all(count % g == 0 and count // g >= 2 for count in channels)]
    assert not larger  # the largest such count


def test_no_channel_counts_is_an_error():
    with pytest.raises(ValueError, match="channel counts must be positive"):
        choose_groups([])
