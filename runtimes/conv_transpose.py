"""The transposed 2-D convolution in numpy (channels last): its value and gradients.

``x[B, H, W, C]`` (``C`` the kernel's third axis), ``kernel[kh, kw, C, F]``: every input
value adds ``x[b, iy, ix, c] * kernel[ky, kx, c, :]`` at output ``(iy*sh + ky - pt,
ix*sw + kx - pl)``, the adjoint of ``conv2d`` with the kernel's channel axes swapped
(Nengo's ``ConvolutionTranspose``). Computed on a canvas holding every position an input
reaches, one matrix product per kernel tap, then cropped to the output. The rate runtime
(forward and reverse rule) and the reference oracle both use it.
"""

from __future__ import annotations

import numpy as np


def _canvas(x: np.ndarray, kernel: np.ndarray, strides, pads, out_hw) -> tuple:
    kh, kw = kernel.shape[:2]
    (sh, sw), (pt, pl), (oh, ow) = strides, pads, out_hw
    h = max((x.shape[1] - 1) * sh + kh, pt + oh)
    w = max((x.shape[2] - 1) * sw + kw, pl + ow)
    return np.zeros((x.shape[0], h, w, kernel.shape[3]), dtype=np.result_type(x, kernel))


def _taps(x: np.ndarray, kernel: np.ndarray, strides):
    """``(ky, kx, rows, cols)``: where tap ``(ky, kx)`` of every input lands on the canvas."""
    kh, kw = kernel.shape[:2]
    (sh, sw), (h, w) = strides, x.shape[1:3]
    for ky in range(kh):
        for kx in range(kw):
            yield ky, kx, slice(ky, ky + (h - 1) * sh + 1, sh), slice(kx, kx + (w - 1) * sw + 1,
                                                                   sw)


def forward(x: np.ndarray, kernel: np.ndarray, strides, pads, out_hw) -> np.ndarray:
    """``[B, OH, OW, F]``."""
    canvas = _canvas(x, kernel, strides, pads, out_hw)
    for ky, kx, rows, cols in _taps(x, kernel, strides):
        canvas[:, rows, cols, :] += x @ kernel[ky, kx]
    (pt, pl), (oh, ow) = pads, out_hw
    return canvas[:, pt:pt + oh, pl:pl + ow, :]


def backward(x: np.ndarray, kernel: np.ndarray, strides, pads, dy: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dkernel)`` from ``dy[B, OH, OW, F]``."""
    canvas = _canvas(x, kernel, strides, pads, dy.shape[1:3])
    (pt, pl), (oh, ow) = pads, dy.shape[1:3]
    canvas[:, pt:pt + oh, pl:pl + ow, :] = dy
    dx = np.zeros_like(x)
    dk = np.zeros_like(kernel)
    flat_x = x.reshape(-1, x.shape[3])
    for ky, kx, rows, cols in _taps(x, kernel, strides):
        g = canvas[:, rows, cols, :]
        dx += g @ kernel[ky, kx].T
        dk[ky, kx] = flat_x.T @ g.reshape(-1, g.shape[3])
    return dx, dk
