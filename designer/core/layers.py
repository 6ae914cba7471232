"""Layers: the unit that FLOPs, parameters, entropy and latency are all counted from.

A block family (``designer.core.blocks``) describes a block as a list of :class:`Layer` records;
everything numeric about a network is a sum over those records, so there is exactly one
formula for each quantity. Numeric fields may be Python ints *or* NumPy arrays: the solver
evaluates thousands of candidate networks at once by passing arrays of channel counts through
the same code that prices a single spec.

Conventions
-----------
* FLOPs are multiply-accumulates (MACs) of convolutions and fully connected layers, the
  convention under which ResNet-50 costs 4.1 G. Batch-norm, activations, pooling, residual
  adds and the SE gating multiply are not counted.
* Parameters are every trainable tensor: conv and linear weights and biases, and the batch-norm
  scale and shift (running statistics are buffers, not parameters).
* Convolutions pad ``kernel // 2``, so the output resolution is ``ceil(res_in / stride)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

Int = int | np.ndarray
"""An integer, or an integer array when many networks are priced at once."""


@overload
def out_res(res: int, stride: int) -> int: ...
@overload
def out_res(res: Int, stride: Int) -> Int: ...
def out_res(res: Int, stride: Int) -> Int:
    """Output resolution of a conv or pool that pads ``kernel // 2``: ``ceil(res / stride)``."""
    if isinstance(stride, int) and stride == 1:
        return res  # resolutions are whole numbers (the division is slow on large float arrays)
    return (res + stride - 1) // stride


LayerKind = Literal["conv", "dwconv", "se", "pool", "linear"]
Role = Literal["main", "shortcut", "se", "pool", "classifier"]


@dataclass(frozen=True)
class Layer:
    """One operator of the network, with the shapes that price it.

    ``role`` says what the layer is for, which decides whether it counts as a *main* layer for
    entropy and effectiveness (see :mod:`designer.core.entropy`). ``present`` is 1 where the layer
    exists and 0 where a vectorised candidate omits it (a MobileNetV2 block with expansion 1
    has no expansion conv). ``fused_add`` marks the conv whose output the residual add follows,
    which TensorRT fuses into that conv; latency tables key on it. ``act`` says whether the
    network's activation follows the conv (after the add, if any): not after a shortcut
    projection nor after an inverted residual's linear projection. Latency tables key on it too.
    """

    kind: LayerKind
    role: Role
    cin: Int
    cout: Int
    res_in: Int
    kernel: Int = 1
    stride: int = 1
    groups: Int = 1
    bias: bool = False
    norm: bool = True
    fused_add: bool = False
    act: bool = True
    squeeze: Int = 0
    present: Any = True

    @property
    def res_out(self) -> Int:
        if self.kind in ("se", "linear"):
            return self.res_in
        return out_res(self.res_in, self.stride)

    @property
    def fan_in(self) -> Int:
        """Input channels each output channel reads (``cin / groups``)."""
        if self.kind == "dwconv":
            return 1
        if isinstance(self.groups, int) and self.groups == 1:
            return self.cin
        return self.cin // self.groups

    @property
    def width(self) -> Any:
        """DeepMAD width ``c * k^2 / g``: fan-in of one output unit."""
        return self.fan_in * (self.kernel * self.kernel)

    @property
    def macs(self) -> Int:
        if self.kind in ("conv", "dwconv"):
            res = self.res_out
            value = self.fan_in * (self.kernel * self.kernel) * self.cout * (res * res)
        elif self.kind == "linear":
            value = self.cin * self.cout
        elif self.kind == "se":
            value = 2 * self.cin * self.squeeze
        else:
            return 0
        return value if self.present is True else value * self.present

    @property
    def params(self) -> Int:
        if self.kind in ("conv", "dwconv"):
            extra = (1 if self.bias else 0) + (2 if self.norm else 0)
            value = (self.fan_in * (self.kernel * self.kernel) + extra) * self.cout
        elif self.kind == "linear":
            value = (self.cin + 1) * self.cout
        elif self.kind == "se":
            # two 1x1 convs: with biases, or (``norm``) each followed by a batch-norm
            value = 2 * self.cin * self.squeeze + (2 if self.norm else 1) * (self.squeeze + self.cin)
        else:
            return 0
        return value if self.present is True else value * self.present

    @property
    def activations(self) -> Int:
        """Feature-map elements read and written (per image)."""
        if self.kind == "linear":
            value = self.cin + self.cout
        elif self.kind == "se":
            value = 2 * self.cin * self.res_in * self.res_in
        else:
            value = self.cin * self.res_in * self.res_in + self.cout * self.res_out * self.res_out
        return value if self.present is True else value * self.present

    @property
    def is_main(self) -> bool:
        return self.role == "main"


def total_macs(layers: list[Layer]) -> Int:
    return sum((layer.macs for layer in layers), 0)


def total_params(layers: list[Layer]) -> Int:
    return sum((layer.params for layer in layers), 0)
