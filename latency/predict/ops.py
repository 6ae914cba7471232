"""The operators a latency profile times, and how a network's layers map onto them.

An *op* is what the network runs for one :class:`~designer.core.layers.Layer`, with batch-norm
folded into the conv's bias. Its key is ``(kind, cin, res, cout, kernel, stride)`` at the
profile's batch; ``res`` is the input resolution. Kinds:

=================  =========================================================================
``conv``           regular conv with bias (a shortcut projection, an inverted residual's
                   linear projection)
``conv_act``       the same followed by the activation
``conv_add``       conv, then the residual add (an inverted residual's last conv)
``conv_add_act``   conv, residual add, activation (the last conv of a ResNet block)
``dwconv_act``     depthwise conv (``cin == cout``) and activation; ``dwconv`` without it
``se``             squeeze-and-excitation on ``cin`` channels; ``cout`` is the squeeze width
``maxpool``        3x3 stride-2 max-pool (``kernel`` 3, ``stride`` 2)
``avgpool``        global average pool (``kernel == stride == 0``)
``linear``         fully connected ``cin -> cout`` (``res`` 1)
=================  =========================================================================

Variants of one *base* kind (``conv``, ``dwconv``) differ only in the epilogue; the
predictor uses them to inform each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from designer.core.errors import DesignerError
from designer.core.layers import Layer

CONV_KINDS = ("conv", "conv_act", "conv_add", "conv_add_act")
DW_KINDS = ("dwconv", "dwconv_act")
KINDS = (*CONV_KINDS, *DW_KINDS, "se", "maxpool", "avgpool", "linear")


def base_kind(kind: str) -> str:
    """``conv`` for the four conv variants, ``dwconv`` for both depthwise ones, else ``kind``."""
    if kind in CONV_KINDS:
        return "conv"
    if kind in DW_KINDS:
        return "dwconv"
    return kind


def has_add(kind: str) -> bool:
    return "_add" in kind


def has_act(kind: str) -> bool:
    return kind.endswith("_act")


@dataclass(frozen=True, order=True)
class OpKey:
    """One timed operator at the profile's batch (see the module docstring)."""

    kind: str
    cin: int
    res: int
    cout: int
    kernel: int
    stride: int

    def as_tuple(self) -> tuple[str, int, int, int, int, int]:
        return (self.kind, self.cin, self.res, self.cout, self.kernel, self.stride)

    def layer(self) -> Layer:
        """The :class:`Layer` this op times (for MACs and feature-map sizes)."""
        return op_layer(self.kind, self.cin, self.res, self.cout, self.kernel, self.stride)

    def label(self) -> str:
        return f"{self.kind} {self.cin}->{self.cout} @{self.res} k{self.kernel} s{self.stride}"

    @classmethod
    def from_label(cls, label: str) -> OpKey:
        """The op a :meth:`label` names (as reports such as ``benchmarks/layer_breakdown.py`` store it)."""
        match = re.fullmatch(r"(\w+) (\d+)->(\d+) @(\d+) k(\d+) s(\d+)", label)
        if match is None:
            raise DesignerError(f"{label!r} is not an op label; write it like 'conv_act 64->128 @56 k3 s1'")
        kind, cin, cout, res, kernel, stride = match.groups()
        return cls(kind, int(cin), int(res), int(cout), int(kernel), int(stride))


def op_layer(kind: str, cin: Any, res: Any, cout: Any, kernel: int, stride: int) -> Layer:
    """A :class:`Layer` with the op's shapes (fields may be arrays)."""
    base = base_kind(kind)
    if base == "conv":
        return Layer("conv", "main", cin, cout, res, kernel, stride, fused_add=has_add(kind), act=has_act(kind))
    if base == "dwconv":
        return Layer("dwconv", "main", cin, cin, res, kernel, stride, groups=cin, act=has_act(kind))
    if kind == "se":
        return Layer("se", "se", cin, cin, res, squeeze=cout, norm=False)
    if kind == "maxpool":
        return Layer("pool", "pool", cin, cin, res, 3, 2, norm=False)
    if kind == "avgpool":
        return Layer("pool", "pool", cin, cin, res, res, res, norm=False)
    if kind == "linear":
        return Layer("linear", "classifier", cin, cout, 1, norm=False, bias=True)
    raise DesignerError(f"unknown op kind {kind!r}; use one of: {', '.join(KINDS)}")


@dataclass(frozen=True)
class OpQuery:
    """Many ops of one kind, kernel and stride at once: the vectorised form of a layer."""

    kind: str
    cin: np.ndarray
    res: np.ndarray
    cout: np.ndarray
    kernel: int
    stride: int


def layer_op(layer: Layer) -> OpQuery:
    """The op a layer runs as (fields broadcast to one shape); DesignerError if none fits."""
    kernel, stride = int(layer.kernel), int(layer.stride)
    if layer.kind == "conv":
        if not (isinstance(layer.groups, int) and layer.groups == 1):
            raise DesignerError("grouped convs other than depthwise have no latency entries; use groups=1 or dwconv")
        kind = ("conv_add" if layer.fused_add else "conv") + ("_act" if layer.act else "")
        cin, res, cout = layer.cin, layer.res_in, layer.cout
    elif layer.kind == "dwconv":
        kind, cin, res, cout = ("dwconv_act" if layer.act else "dwconv"), layer.cin, layer.res_in, layer.cin
    elif layer.kind == "se":
        kind, cin, res, cout, kernel, stride = "se", layer.cin, layer.res_in, layer.squeeze, 1, 1
    elif layer.kind == "pool":
        if np.all(np.asarray(layer.kernel) == np.asarray(layer.res_in)) and layer.kernel == layer.stride:
            kind, kernel, stride = "avgpool", 0, 0
        elif (kernel, stride) == (3, 2):
            kind = "maxpool"
        else:
            raise DesignerError(f"pool k{kernel} s{stride} has no latency entries; use 3x3 s2 or global pooling")
        cin, res, cout = layer.cin, layer.res_in, layer.cin
    elif layer.kind == "linear":
        kind, cin, res, cout, kernel, stride = "linear", layer.cin, 1, layer.cout, 1, 1
    else:
        raise DesignerError(f"layer kind {layer.kind!r} has no latency entries")
    if kind == "avgpool":
        kernel = stride = 0
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (cin, res, cout)))
    return OpQuery(kind, arrays[0], arrays[1], arrays[2], kernel, stride)


def layer_ops(layer: Layer) -> list[OpKey]:
    """The distinct ops of a layer whose fields may be arrays (for choosing what to profile)."""
    query = layer_op(layer)
    present = np.broadcast_to(np.asarray(layer.present, dtype=bool), query.cin.shape)
    rows = np.stack([query.cin[present], query.res[present], query.cout[present]], -1).reshape(-1, 3)
    return [
        OpKey(query.kind, int(c), int(r), int(o), query.kernel, query.stride) for c, r, o in np.unique(rows, axis=0)
    ]
