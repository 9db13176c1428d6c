"""The pipeline: the orchestrator that joins the stages, and the commands that run it."""

from edge.runtime.pipeline.orchestrator import STAGES, Pipeline, RunStats

__all__ = ["STAGES", "Pipeline", "RunStats"]
