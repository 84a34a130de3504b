"""Activations that upstream NNVISR's exporter fuses into its custom::DeformConv2d node, as standard ONNX nodes.

Upstream's optimiser folds an activation that follows a deformable convolution
into the node's activation_type, alpha and beta attributes (-1: none), with
TensorRT's ActivationType numbering and meanings; its DCNv2 plugin applies it
after the convolution and bias. Rewritten to ONNX DeformConv, the activation
becomes the nodes below, after it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from .errors import NnvisrError

if TYPE_CHECKING:
    import onnx

NONE = -1


@dataclasses.dataclass(frozen=True)
class FusedActivation:
    kind: int  # TensorRT ActivationType
    alpha: float
    beta: float

    def nodes(self, source: str, target: str, model: onnx.ModelProto) -> list[onnx.NodeProto]:
        """Nodes computing target = activation(source); constants are added to the model's initialisers."""
        from onnx import TensorProto, helper

        prefix = f"{target}__activation"
        made: list[onnx.NodeProto] = []

        def constant(name: str, value: float) -> str:
            full = f"{prefix}_{name}"
            model.graph.initializer.append(helper.make_tensor(full, TensorProto.FLOAT, [], [value]))
            return full

        def node(op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
            output = output or f"{prefix}_{len(made)}"
            made.append(helper.make_node(op, inputs, [output], name=output, **attrs))
            return output

        alpha, beta = self.alpha, self.beta
        if self.kind in SIMPLE:
            node(SIMPLE[self.kind], [source], target)
        elif self.kind == LEAKY_RELU:
            node("LeakyRelu", [source], target, alpha=alpha)
        elif self.kind == ELU:
            node("Elu", [source], target, alpha=alpha)
        elif self.kind == SELU:
            node("Selu", [source], target, alpha=alpha, gamma=beta)
        elif self.kind == SOFTPLUS:  # alpha * log(exp(beta * x) + 1)
            scaled = node("Mul", [source, constant("beta", beta)])
            node("Mul", [node("Softplus", [scaled]), constant("alpha", alpha)], target)
        elif self.kind == CLIP:
            node("Clip", [source, constant("min", alpha), constant("max", beta)], target)
        elif self.kind == HARD_SIGMOID:
            node("HardSigmoid", [source], target, alpha=alpha, beta=beta)
        elif self.kind == SCALED_TANH:  # alpha * tanh(beta * x)
            scaled = node("Mul", [source, constant("beta", beta)])
            node("Mul", [node("Tanh", [scaled]), constant("alpha", alpha)], target)
        elif self.kind == THRESHOLDED_RELU:
            node("ThresholdedRelu", [source], target, alpha=alpha)
        elif self.kind == GELU_ERF:  # x * (1 + erf(x / sqrt 2)) / 2
            erf = node("Erf", [node("Mul", [source, constant("rsqrt2", 1 / math.sqrt(2))])])
            half_x = node("Mul", [source, constant("half", 0.5)])
            node("Mul", [half_x, node("Add", [erf, constant("one", 1.0)])], target)
        elif self.kind == GELU_TANH:  # x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2
            cube = node("Mul", [node("Mul", [source, source]), source])
            inner = node("Add", [source, node("Mul", [cube, constant("c", 0.044715)])])
            tanh = node("Tanh", [node("Mul", [inner, constant("k", math.sqrt(2 / math.pi))])])
            half_x = node("Mul", [source, constant("half", 0.5)])
            node("Mul", [half_x, node("Add", [tanh, constant("one", 1.0)])], target)
        return made


# TensorRT's ActivationType numbers (NvInfer.h), which upstream's plugin takes.
RELU, SIGMOID, TANH, LEAKY_RELU, ELU, SELU, SOFTSIGN, SOFTPLUS = range(8)
CLIP, HARD_SIGMOID, SCALED_TANH, THRESHOLDED_RELU, GELU_ERF, GELU_TANH = range(8, 14)
SIMPLE = {RELU: "Relu", SIGMOID: "Sigmoid", TANH: "Tanh", SOFTSIGN: "Softsign"}
NAMES = {
    RELU: "ReLU", SIGMOID: "sigmoid", TANH: "tanh", LEAKY_RELU: "leaky ReLU", ELU: "ELU", SELU: "SELU",
    SOFTSIGN: "softsign", SOFTPLUS: "softplus", CLIP: "clip", HARD_SIGMOID: "hard sigmoid",
    SCALED_TANH: "scaled tanh", THRESHOLDED_RELU: "thresholded ReLU", GELU_ERF: "GELU (erf)",
    GELU_TANH: "GELU (tanh)",
}


def fused_activation(node_name: str, attributes: dict) -> FusedActivation | None:
    """The activation a custom::DeformConv2d node carries, None for none (-1, or no attribute)."""
    kind = attributes.get("activation_type", NONE)
    if not isinstance(kind, int):
        raise NnvisrError(f"DeformConv2d node {node_name!r}: activation_type must be an integer, got {kind!r}")
    if kind == NONE:
        return None
    if kind not in NAMES:
        known = ", ".join(f"{number} ({name})" for number, name in NAMES.items())
        raise NnvisrError(
            f"DeformConv2d node {node_name!r} has activation_type={kind}, which is not one of TensorRT's "
            f"activation types that upstream's plugin takes: -1 (none), {known}"
        )
    alpha, beta = (float(attributes.get(name, 0.0)) for name in ("alpha", "beta"))
    return FusedActivation(kind, alpha, beta)
