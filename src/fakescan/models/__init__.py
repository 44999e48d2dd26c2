"""Deepfake detectors: Xception, a small CNN, the attention network and MD-CSDNetwork.

Build one with :func:`create`; model families are imported only when built. ``models`` never
imports ``data`` or ``train``.
"""

from fakescan.models._registry import create, list_models, register_model

__all__ = ["create", "list_models", "register_model"]
