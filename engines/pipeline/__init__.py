"""The one pipeline every way in uses, its options, and the builders of its stages."""

from engines.pipeline.options import AudioOptions, ExplainOptions, FastPathOptions, PipelineOptions
from engines.pipeline.pipeline import Pipeline

__all__ = ["AudioOptions", "ExplainOptions", "FastPathOptions", "Pipeline", "PipelineOptions"]
