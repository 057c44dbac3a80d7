"""Adaptive pooling's FLOPs in closed form: summing the windows one by one took 6 s for an
output of 10^7 and some 40 minutes at the largest output a spec allows."""
import time

import pytest

from cnnspace import analyze
from cnnspace.metrics._counts import _adaptive_window_total
from cnnspace.spec import MAX_SIZE, from_dict


def _windows(size: int, out: int) -> int:
    """torch's rule, window by window: start floor(i * size / out), end ceil((i + 1) * size /
    out) (tests/test_review_agreement_fuzz.py holds the count to torch's own windows)."""
    return sum(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out))


@pytest.mark.parametrize("size", range(1, 40))
def test_the_closed_form_adds_up_every_window(size):
    for out in range(1, 60):
        assert _adaptive_window_total(size, out) == _windows(size, out), (size, out)


def test_a_huge_adaptive_output_is_counted_at_once():
    spec = from_dict({"name": "t", "input": [3, MAX_SIZE, 8], "layers": [
        {"name": "a", "type": "adaptive_avgpool", "output_size": [MAX_SIZE - 1, 10**7]}]})
    start = time.perf_counter()
    flops = analyze(spec).layers[0].flops
    assert time.perf_counter() - start < 1
    assert flops == 3 * (MAX_SIZE + MAX_SIZE - 1 - 1) * (8 + 10**7 - 8)
