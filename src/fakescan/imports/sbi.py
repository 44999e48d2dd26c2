"""``sbi``: the EfficientNet-B4 of Self-Blended Images (Shiohara & Yamasaki, "Detecting Deepfakes with
Self-Blended Images", CVPR 2022, arXiv 2204.08376), published as ``FFraw.tar`` and ``FFc23.tar``.

Read from github:mapooon/SelfBlendedImages (never copied):

- ``src/inference/model.py``: ``Detector.net = EfficientNet.from_pretrained("efficientnet-b4",
  advprop=True, num_classes=2)`` (``efficientnet-pytorch``), so the keys are ``net._conv_stem.weight``
  … ``net._fc.bias`` — exactly those of fakescan's ``efficientnet_b4`` wrapper (``self.net``).
- ``src/inference/inference_video.py``: ``torch.load(weights)["model"]`` (the file also holds the
  optimiser state and epoch), input ``uint8 RGB / 255`` with **no mean/std normalisation**, output
  ``softmax(1)[:, 1]`` = fake; a video's score is the mean over frames of the max over its faces.
- ``src/inference/preprocess.py``: RetinaFace (``resnet50_2020-07-20``) boxes, ``crop_face(...,
  crop_by_bbox=True, phase="test")``: the box grown by w/8 left and right and h/8 top and bottom (a
  1.25× box, not square), clipped to the frame, then ``cv2.resize`` to 380×380; 32 frames evenly spaced;
  faces smaller than half the largest are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakescan.imports._base import FaceCrop, ImportFamily, StateDict, require_keys

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILY"]


def convert(state: StateDict) -> dict[str, torch.Tensor]:
    """SBI's ``Detector`` keys are fakescan's ``efficientnet_b4`` keys: check the family, keep them."""
    require_keys(state, ("net._conv_stem.weight", "net._fc.weight"), "sbi")
    return dict(state)


FAMILY = ImportFamily(
    name="sbi",
    description="Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): EfficientNet-B4, 380 px, 2-class",
    licence=(
        "SBI Software License Agreement: academic or non-profit noncommercial research use only; "
        "commercial use needs a licence agreement from the authors (Yamasaki Lab, University of Tokyo)"
    ),
    licence_url="https://github.com/mapooon/SelfBlendedImages/blob/master/LICENSE",
    reference="github:mapooon/SelfBlendedImages",
    reference_files=(
        "src/inference/model.py",
        "src/inference/inference_video.py",
        "src/inference/preprocess.py",
    ),
    published_files=("FFraw.tar", "FFc23.tar"),
    model="efficientnet_b4",
    model_kwargs={"num_classes": 2, "image_size": 380, "normalization": "none"},
    image_size=380,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    output="softmax",
    fake_index=1,
    face_crop=FaceCrop(
        detector="retinaface",
        margin=1.25,
        faces="max",
        note=(
            "RetinaFace resnet50_2020-07-20 box grown by 1/8 of its width and height on each side "
            "(1.25x, not square), clipped to the frame, resized to 380x380 (src/inference/preprocess.py)"
        ),
    ),
    video_score="mean over 32 evenly spaced frames of the max over the frame's faces",
    convert=convert,
)
