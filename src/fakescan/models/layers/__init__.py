"""Small building blocks shared by the model families."""

from fakescan.models.layers.separable import SeparableConv2d, XceptionBlock

__all__ = ["SeparableConv2d", "XceptionBlock"]
