"""Prediction: verdicts for images and videos from a checkpoint, explanations, and ONNX export.

``engine`` runs the ``extract`` pipeline in memory and scores the faces (:func:`run_prediction`);
``explain`` writes Grad-CAM, reconstruction-error and spectrum pictures, annotated videos and
score timelines; ``export`` writes an ONNX model and runs it in ONNX Runtime. PyAV, the detector,
matplotlib and ONNX load only inside the functions that use them.
"""

from fakescan.predict.engine import (
    BACKENDS,
    Backend,
    FrameScore,
    PredictConfig,
    Prediction,
    Predictor,
    PredictReport,
    Verdict,
    fake_probability,
    load_predictor,
    predict_item,
    run_prediction,
    write_csv,
    write_json,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "FrameScore",
    "PredictConfig",
    "PredictReport",
    "Prediction",
    "Predictor",
    "Verdict",
    "fake_probability",
    "load_predictor",
    "predict_item",
    "run_prediction",
    "write_csv",
    "write_json",
]
