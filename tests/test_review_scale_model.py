"""The communication model's counts, exact for every worker count."""
import math

import pytest

from cnnspace.scale import comm_coefficients


@pytest.mark.parametrize("workers", [2, 3, 5, 6, 7, 8, 9, 127, 128, 129, 2**31 - 1])
def test_tree_rounds_are_ceil_log2_of_the_workers(workers):
    # 2 ceil(log2 N) messages: a binomial-tree reduce, then a broadcast (docs/scaling.md)
    rounds = next(r for r in range(64) if 2**r >= workers)
    assert comm_coefficients("reduction_tree", workers) == (2.0 * rounds, 2.0 * rounds)


@pytest.mark.parametrize("rounds", [53, 60])
def test_tree_rounds_of_a_huge_worker_count_are_not_lost_to_float_rounding(rounds):
    # math.log2(2**53 + 1) is 53.0 in floats: the tree was counted one round short
    workers = 2**rounds + 1
    assert math.log2(workers) == rounds
    assert comm_coefficients("reduction_tree", workers) == (2.0 * (rounds + 1),) * 2
