"""Small building blocks shared by the model families."""

from fakescan.models.layers.cross_stitch import ALPHA_NAME, CrossStitch, cross_stitch_parameters
from fakescan.models.layers.frequency import CrossModalityFusion, FrequencyStream, SpectralFilter
from fakescan.models.layers.graph import GraphReasoning, GuidedAttention
from fakescan.models.layers.separable import SeparableConv2d, XceptionBlock

__all__ = [
    "ALPHA_NAME",
    "CrossModalityFusion",
    "CrossStitch",
    "FrequencyStream",
    "GraphReasoning",
    "GuidedAttention",
    "SeparableConv2d",
    "SpectralFilter",
    "XceptionBlock",
    "cross_stitch_parameters",
]
