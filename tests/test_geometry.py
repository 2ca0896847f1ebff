"""One definition of sliding-window geometry (snngraph.geometry), checked against a
brute-force reading of Keras/TensorFlow's 'valid' and 'same', and used everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from snngraph.compiler.loihi_resources import Conv2D

from snngraph import geometry

ROOT = Path(__file__).resolve().parents[1]
sizes = st.integers(1, 40)
kernels = st.integers(1, 9)
strides = st.integers(1, 5)
paddings = st.sampled_from(["valid", "same"])


def brute_force(n: int, k: int, s: int, padding: str) -> tuple[int, int, int]:
    """(out, before, after) by enumeration: 'valid' keeps the windows that fit in the
    input; 'same' has one window per stride step that starts inside the input, and the
    fewest zeros that make the last window fit, half before (rounded down)."""
    if padding == "valid":
        return sum(1 for i in range(n) if i * s + k <= n), 0, 0
    out = sum(1 for i in range(n) if i * s < n)
    total = next(p for p in range(k + 1) if (out - 1) * s + k <= n + p)
    return out, total // 2, total - total // 2


@given(sizes, kernels, strides, paddings)
def test_geometry_matches_brute_force(n, k, s, padding):
    out, before, after = brute_force(n, k, s, padding)
    if out < 1:  # 'valid' with a window larger than the input: no output
        return
    assert geometry.output_size(n, k, s, padding) == out
    assert geometry.pad_amounts(n, k, s, padding) == (before, after)
    assert geometry.pad_before(n, k, s, padding) == before
    if padding == "same":
        assert out == -(-n // s)  # TensorFlow: ceil(in / stride)


@given(st.tuples(sizes, sizes), st.tuples(kernels, kernels), st.tuples(strides, strides),
       paddings)
def test_padded_images_hold_exactly_the_output_windows(spatial, k, s, padding):
    if padding == "valid" and any(kk > n for kk, n in zip(k, spatial)):
        return
    x = np.ones((1, *spatial, 1))
    padded = geometry.pad_images(x, k, s, padding, fill=-1.0)
    out = geometry.output_shape(spatial, k, s, padding)
    for axis, (o, kk, ss) in enumerate(zip(out, k, s)):
        assert (padded.shape[axis + 1] - kk) // ss + 1 == o  # a 'valid' pass over it
    pads = geometry.leading_pads(spatial, k, s, padding)
    assert pads.dtype == np.int64
    assert np.all(padded[0, pads[0]:pads[0] + spatial[0], pads[1]:pads[1] + spatial[1]] == 1)
    assert np.sum(padded == 1) == x.size


@given(st.tuples(sizes, sizes), st.tuples(kernels, kernels), st.tuples(strides, strides),
       paddings)
def test_loihi_conv_geometry_is_the_same(spatial, k, s, padding):
    if padding == "valid" and any(kk > n for kk, n in zip(k, spatial)):
        return
    conv = Conv2D((*spatial, 2), (*k, 2, 3), s, padding)
    assert conv.output_shape == (*geometry.output_shape(spatial, k, s, padding), 3)


def test_padding_arithmetic_lives_in_one_module():
    """No other module branches on 'same' to compute its own padding or output size."""
    offenders = []
    for folder in ("snngraph", "compiler", "runtimes", "schemas"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "geometry.py":
                continue
            text = path.read_text()
            if re.search(r'padding\s*[!=]=\s*"same"', text):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
