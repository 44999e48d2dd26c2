"""RECCE's two fusion modules (Cao et al., "End-to-End Reconstruction-Classification Learning for Face
Forgery Detection", CVPR 2022): multi-scale graph reasoning and reconstruction-guided attention.

- :class:`GraphReasoning` (the paper's "multi-scale graph reasoning"): each position of the encoder map is
  a node whose children are the ``r×r`` patch it covers in a decoder map that is ``r`` times larger
  (``r = 2`` for ``d2``, ``r = 4`` for ``d4``). Children are embedded, re-weighted by a softmax over
  each node's children, summed, gated by the node, and re-projected to the encoder's width.
- :class:`GuidedAttention` (the paper's "reconstruction guided attention"): the reconstruction error
  ``|x − x̂|`` at the feature map's size becomes a gate that highlights where the image departs from
  what the real-only decoder expects.

Unlike the reference code, the graph is aggregated for all nodes at once (no Python loop over
positions, no ``squeeze()`` that breaks at batch size 1).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GraphReasoning", "GuidedAttention"]


def _mlp(in_dim: int, out_dim: int) -> nn.Sequential:
    """Two bias-free linear layers with a ReLU between them."""
    return nn.Sequential(
        nn.Linear(in_dim, out_dim, bias=False), nn.ReLU(), nn.Linear(out_dim, out_dim, bias=False)
    )


class _ChildAggregator(nn.Module):
    """Embed the ``r×r`` children of every node and sum them with softmax weights conditioned on the node."""

    def __init__(self, child_chs: int, dim: int, node_dim: int, ratio: int) -> None:
        super().__init__()
        self.ratio = ratio
        self.embed = _mlp(child_chs, dim)
        self.score = nn.Linear(node_dim + dim, 1, bias=False)

    def forward(self, nodes: torch.Tensor, children: torch.Tensor) -> torch.Tensor:
        """``nodes``: B×N×D_node (embedded); ``children``: B×C×(h·r)×(w·r) → B×N×dim."""
        batch, chs = children.shape[:2]
        # unfold: B×(C·r²)×N with C the slowest index → B×N×r²×C.
        patches = F.unfold(children, kernel_size=self.ratio, stride=self.ratio)
        patches = patches.reshape(batch, chs, self.ratio * self.ratio, -1).permute(0, 3, 2, 1)
        child = self.embed(patches)  # B×N×r²×dim
        parent = nodes.unsqueeze(2).expand(-1, -1, child.shape[2], -1)
        weight = torch.softmax(F.relu(self.score(torch.cat([parent, child], dim=-1))), dim=2)
        return (weight * child).sum(dim=2)


class GraphReasoning(nn.Module):
    """RECCE's "multi-scale graph reasoning" over encoder nodes and two decoder maps.

    Args:
        node_chs: channels of the encoder map (728 for Xception's middle flow).
        mid_chs, fine_chs: channels of the decoder maps ``d2`` (256) and ``d4`` (128).
        dim: width of every embedding (256 in RECCE).
        ratios: how many times larger the two decoder maps are than the encoder map (2 and 4).
        drop_rate: dropout at the end of the re-projection.

    Shapes: ``nodes`` ``B×node_chs×h×w``, ``mid`` ``B×mid_chs×(h·r₁)×(w·r₁)``, ``fine``
    ``B×fine_chs×(h·r₂)×(w·r₂)``; output ``B×node_chs×h×w`` (the caller adds it to ``nodes``).
    """

    def __init__(
        self,
        node_chs: int = 728,
        mid_chs: int = 256,
        fine_chs: int = 128,
        dim: int = 256,
        ratios: tuple[int, int] = (2, 4),
        drop_rate: float = 0.2,
    ) -> None:
        super().__init__()
        self.ratios = ratios
        self.node_embed = nn.Sequential(
            nn.Conv2d(node_chs, dim, 1, bias=False), nn.ReLU(), nn.Conv2d(dim, dim, 1, bias=False)
        )
        self.gate_mid = nn.Sequential(nn.Conv2d(node_chs, dim, 1, bias=False), nn.Sigmoid())
        self.gate_fine = nn.Sequential(nn.Conv2d(node_chs, dim, 1, bias=False), nn.Sigmoid())
        self.mid = _ChildAggregator(mid_chs, dim, dim, ratios[0])
        self.fine = _ChildAggregator(fine_chs, dim, dim, ratios[1])
        self.reproject = nn.Sequential(
            nn.Conv2d(3 * dim, node_chs, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(node_chs, node_chs, 1, bias=False),
            nn.Dropout(drop_rate),
        )

    def forward(self, nodes: torch.Tensor, mid: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = nodes.shape
        for name, child, ratio in (("mid", mid, self.ratios[0]), ("fine", fine, self.ratios[1])):
            if tuple(child.shape[-2:]) != (height * ratio, width * ratio):
                raise ValueError(
                    f"{name} map is {tuple(child.shape[-2:])}, expected {ratio}× the nodes' {(height, width)}"
                )
        node = self.node_embed(nodes)  # B×dim×h×w
        tokens = node.flatten(start_dim=2).transpose(1, 2)  # B×N×dim
        # Each scale's message is gated by its node: 1 − σ(conv1x1(node)), one gate per channel.
        agg_mid = self.mid(tokens, mid).transpose(1, 2).reshape(batch, -1, height, width)
        agg_fine = self.fine(tokens, fine).transpose(1, 2).reshape(batch, -1, height, width)
        agg_mid = agg_mid * (1 - self.gate_mid(nodes))
        agg_fine = agg_fine * (1 - self.gate_fine(nodes))
        return self.reproject(torch.sigmoid(torch.cat([agg_mid, agg_fine, node], dim=1)))


class GuidedAttention(nn.Module):
    """RECCE's "reconstruction guided attention".

    ``gate = σ(conv1x1(ReLU(conv3x3(|x − x̂|↓))))`` with ``↓`` an area (average) resize of the error to the
    feature map's size; ``out = gate · ReLU(BN(conv1x1(f))) + dropout(f)``. The area resize keeps every
    pixel's error (the reference's bilinear resize samples a few pixels out of each 16×16 cell).

    Args:
        channels: ``C`` of the feature map ``f``.
        drop_rate: dropout on the identity path.
        error_resize: ``"area"`` (the default, above) or ``"bilinear"``: a bilinear resize with
            ``align_corners=True``, as RECCE's public code does (and DeepfakeBench's port of it);
            imported reference checkpoints use it so that their logits match.

    Shapes: ``image`` and ``reconstruction`` ``B×3×H×W``; ``features`` ``B×C×h×w``; returns the new
    features ``B×C×h×w`` and the gate ``B×1×h×w`` (values in ``(0, 1)``).
    """

    def __init__(
        self, channels: int = 728, drop_rate: float = 0.2, error_resize: Literal["area", "bilinear"] = "area"
    ) -> None:
        super().__init__()
        if error_resize not in ("area", "bilinear"):
            raise ValueError(f"error_resize must be 'area' or 'bilinear', got {error_resize!r}")
        self.error_resize = error_resize
        self.gate = nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1, bias=False),
            nn.ReLU(),
            nn.Conv2d(3, 1, 1, bias=False),
            nn.Sigmoid(),
        )
        self.transform = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.dropout = nn.Dropout(drop_rate)

    def forward(
        self, image: torch.Tensor, reconstruction: torch.Tensor, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        error = (image - reconstruction).abs()
        if self.error_resize == "area":
            error = F.adaptive_avg_pool2d(error, features.shape[-2:])
        else:
            error = F.interpolate(error, size=features.shape[-2:], mode="bilinear", align_corners=True)
        gate = self.gate(error)
        return gate * self.transform(features) + self.dropout(features), gate
