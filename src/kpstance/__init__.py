"""kpstance: who acts or speaks in each sentence of Korean Peninsula news, and where they stand."""

from __future__ import annotations

import os

# Offline by default: no hub, datasets or telemetry look-ups unless a user opts in
# (model.allow_download=true). Set before transformers or datasets are imported.
for _k, _v in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
               ("HF_HUB_DISABLE_TELEMETRY", "1"), ("MLFLOW_DISABLE_TELEMETRY", "true"),
               ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_k, _v)

__version__ = "0.1.0"
__all__ = ["StancePredictor", "__version__", "plot_trend", "summarize"]


def __getattr__(name: str):
    # Lazy: importing kpstance (for the CLI's help, say) must not pull in torch.
    if name == "StancePredictor":
        from .systems.predictor import StancePredictor

        return StancePredictor
    if name == "summarize":
        from .eval.summary import summarize

        return summarize
    if name == "plot_trend":
        from .eval.trend import plot_trend

        return plot_trend
    raise AttributeError(name)
