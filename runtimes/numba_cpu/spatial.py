"""Executors of the spatial ops (channels-last images): 2-D convolution and pooling."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.numba_cpu import kernels
from snngraph.runtimes.numba_cpu.executor import Executor, executes

from snngraph.geometry import leading_pads, same_pads  # noqa: F401 (same_pads: old name)


class SpatialExec(Executor):
    """Shared by convolution and pooling: NHWC views of the flat buffers."""

    def __init__(self, op, backend):
        super().__init__(op, backend)
        h, w, c = op.shape_in if op.channels_last else (op.shape_in[1], op.shape_in[2],
                                                       op.shape_in[0])
        self.image_in = (h, w, c)
        self.strides = np.array(op.strides, dtype=np.int64)

    def images(self, x):
        if self.op.channels_last:
            return x.reshape(len(x), *self.image_in)
        c, h, w = self.op.shape_in
        return np.ascontiguousarray(x.reshape(len(x), c, h, w).transpose(0, 2, 3, 1))

    def allocate(self, batch):
        super().allocate(batch)
        s = self.op.shape
        if self.op.channels_last:  # the kernels write straight into out (a view)
            self.nhwc = self.out.reshape(batch, *s)
        else:
            self.nhwc = self.zeros(batch, s[1], s[2], s[0])

    def image_arg(self, g: Any) -> str | None:
        """This row's input as an NHWC image view for fused code (None: not fusable,
        since a summed or channels-first input has no fixed view to pass)."""
        if not self.op.channels_last or len(self.backend.inputs[self.op.name]) != 1:
            return None
        return g.rows(lambda: self.backend.input_value(self.op.name).reshape(
            self.backend.batch, *self.image_in))

    def store(self):
        if not self.op.channels_last:
            self.out[:] = self.nhwc.transpose(0, 3, 1, 2).reshape(len(self.out), -1)

    def emit(self, g):
        image = self.image_arg(g)
        if image is None:
            return False
        return g.call(*self.fused_call(g, image))

    def fused_call(self, g: Any, image: str) -> tuple:
        """The serial kernel's name and its arguments for this row's ``image``."""
        raise NotImplementedError


@executes("conv2d")
class ConvExec(SpatialExec):
    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.kernel = self.param(op.kernel)
        b = self.param(op.bias)
        self.bias = b if b is not None else self.zeros(self.kernel.shape[3])
        self.pads = leading_pads(self.image_in[:2], self.kernel.shape[:2], op.strides,
                                 op.padding)

    def compute(self, x, t):
        if x is None:
            x = self.zeros(len(self.out), int(np.prod(self.op.shape_in)))
        conv = self.backend.kernel("conv2d")
        conv(self.images(x), self.kernel, self.bias, self.nhwc, self.strides, self.pads,
             kernels.EVENT_FRACTION, self.active)
        self.store()

    def fused_call(self, g, image):
        return ("kernels.conv2d_serial", image, g.arg(lambda: self.kernel),
                g.arg(lambda: self.bias), g.rows(lambda: self.nhwc),
                g.arg(lambda: self.strides), g.arg(lambda: self.pads),
                kernels.EVENT_FRACTION, g.rows(lambda: self.active))

    def allocate(self, batch):
        super().allocate(batch)
        self.active = np.zeros((batch, int(np.prod(self.op.shape_in))), np.int64)


@executes("conv_transpose2d")
class ConvTransposeExec(SpatialExec):
    """The transposed convolution; its padding is the one of the convolution it is the
    transpose of, which runs from this op's output back to its input."""

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.kernel = self.param(op.kernel)
        b = self.param(op.bias)
        self.bias = b if b is not None else self.zeros(self.kernel.shape[3])
        s = op.shape
        out_hw = (s[0], s[1]) if op.channels_last else (s[1], s[2])
        self.pads = leading_pads(out_hw, self.kernel.shape[:2], op.strides, op.padding)

    def compute(self, x, t):
        if x is None:
            x = self.zeros(len(self.out), int(np.prod(self.op.shape_in)))
        step = self.backend.kernel("conv_transpose2d")
        step(self.images(x), self.kernel, self.bias, self.nhwc, self.strides, self.pads)
        self.store()

    def emit(self, g):
        image = self.image_arg(g)
        if image is None:
            return False
        args = [g.arg(lambda: self.kernel), g.arg(lambda: self.bias),
                g.rows(lambda: self.nhwc), g.arg(lambda: self.strides),
                g.arg(lambda: self.pads)]
        g.lines.append(f"kernels.conv_transpose2d_serial({image}, {', '.join(args)})")
        return True


@executes("pool2d")
class PoolExec(SpatialExec):
    MODES = {"avg": 0, "max": 1, "sum": 2}

    def __init__(self, op, backend):
        super().__init__(op, backend)
        self.pool = np.array(op.pool_size, dtype=np.int64)
        self.pads = leading_pads(self.image_in[:2], op.pool_size, op.strides, op.padding)

    def compute(self, x, t):
        self.backend.kernel("pool2d")(self.images(x), self.nhwc, self.pool, self.strides, self.pads,
                       self.MODES[self.op.pool])
        self.store()

    def fused_call(self, g, image):
        return ("kernels.pool2d_serial", image, g.rows(lambda: self.nhwc),
                g.arg(lambda: self.pool), g.arg(lambda: self.strides),
                g.arg(lambda: self.pads), self.MODES[self.op.pool])
