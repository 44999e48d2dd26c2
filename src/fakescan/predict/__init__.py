"""Prediction: verdicts for images and videos from a checkpoint, explanations, and ONNX export.

``results`` holds the per-file records; ``engine`` runs the ``extract`` pipeline in memory and
scores the faces (:func:`run_prediction`); ``explain`` writes Grad-CAM, reconstruction-error and
spectrum pictures, annotated videos and score timelines; ``export`` writes an ONNX model and runs it
in ONNX Runtime. PyAV, the detector, matplotlib and ONNX load only inside the functions that use them.
"""

from fakescan.predict.engine import (
    BACKENDS,
    Backend,
    PredictConfig,
    Predictor,
    PredictReport,
    load_predictor,
    merge_documents,
    predict_item,
    run_prediction,
    shard_path,
    write_csv,
    write_json,
)
from fakescan.predict.results import FrameScore, Prediction, Verdict

__all__ = [
    "BACKENDS",
    "Backend",
    "FrameScore",
    "PredictConfig",
    "PredictReport",
    "Prediction",
    "Predictor",
    "Verdict",
    "load_predictor",
    "merge_documents",
    "predict_item",
    "run_prediction",
    "shard_path",
    "write_csv",
    "write_json",
]
