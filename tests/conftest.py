import os
import sys

import matplotlib
import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_attention(rng, shape):
    """Row-stochastic random attention of the given (..., Q, K) shape."""
    logits = rng.normal(size=shape)
    weights = np.exp(logits)
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a module: on a shared machine extra threads only spin."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _no_traceback_reaches_the_terminal(capsys, monkeypatch):
    """No test (CLI invocations above all) may print a Python traceback on stderr (issue 18)."""
    seen: list[str] = []
    write = sys.stderr.write

    def tee(text):
        seen.append(text)
        return write(text)

    monkeypatch.setattr(sys.stderr, "write", tee)
    yield
    assert "Traceback (most recent call last)" not in "".join(seen), "a traceback was printed on stderr"
