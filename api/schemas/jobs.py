"""The 202 answer of a route whose analysis is still computing in the background."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JobAccepted(BaseModel):
    """Being computed: what, which step, for how long; ask again after ``retry_after_s``."""

    status: Literal["computing"]
    job: str = Field(description="What is computed (中文 English), e.g. 风险区划 risk zoning.")
    state: Literal["queued", "running", "done", "failed"] = Field(description="The job's state (done or failed only in the moment it ends).")
    step: str = Field(description="The current step (中文 English).")
    elapsed_s: float = Field(ge=0, description="Seconds since the job started (0.1 s).")
    retry_after_s: int = Field(ge=0, description="Seconds to wait before asking again (as the Retry-After header).")
