import os

import pytest

# Two cores, several test workers: keep each torch process to one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def digits8():
    """The built-in digits at 8x8: small enough for many short training runs."""
    from cnnspace.data import get_dataset
    return get_dataset("digits", image_size=8)
