"""The checker's JSON API under ``/api/v1``: CLB conversion, CRS, the FSW grid, eligibility.

Stateless and cookie-free: no session, no database. A body the schema refuses, or a score off its
test's scale, gets a 422 naming every bad field.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from haven.checker import schemas, service
from haven.web.clock import Clock

router = APIRouter(
    prefix="/api/v1",
    tags=["checker"],
    responses={
        400: {"model": schemas.ErrorOut, "description": "The body is not JSON (or not UTF-8)."},
        # Answered by the shield in front of the API, not by these routes: honour Retry-After.
        429: {
            "model": schemas.ErrorOut,
            "description": "Too many requests from this client: see Retry-After.",
        },
        503: {
            "model": schemas.ErrorOut,
            "description": "Haven is busy: try again after Retry-After seconds.",
        },
    },
)


async def today(request: Request) -> dt.date:  # async: a sync dependency would hop to a thread
    clock: Clock = request.app.state.clock
    return clock.today()


Today = Annotated[dt.date, Depends(today)]


def as_json(result: dict[str, Any]) -> Response:
    """The result, serialised once. Returning a Response skips FastAPI's second pass over it
    (validation against the response model): the model stays in the OpenAPI document, and the
    schemathesis tests check every response against it."""
    body = json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json", headers={"cache-control": "no-store"})


@router.post("/clb", response_model=schemas.ClbOut, summary="Convert test scores to CLB/NCLC levels")
async def clb(body: schemas.ClbIn) -> Response:
    """Per-ability levels for one IELTS General Training, CELPIP-General, PTE Core, TEF Canada
    ("Équivalence ancien score" values) or TCF Canada result."""
    return as_json(service.convert_clb(body))


@router.post("/crs", response_model=schemas.CrsOut, summary="Comprehensive Ranking System score")
async def crs(body: schemas.CrsIn, day: Today) -> Response:
    """The CRS total and its breakdown per factor, under the rules in force on ``as_of``
    (default: today in Canada)."""
    return as_json(service.score_crs(body, day))


@router.post("/fsw", response_model=schemas.FswOut, summary="Federal Skilled Worker grid and requirements")
async def fsw(body: schemas.FswIn, day: Today) -> Response:
    """The 67-point selection grid and every minimum requirement, with the reason for each unmet one."""
    return as_json(service.assess_fsw(body, day))


@router.post("/eligibility", response_model=schemas.EligibilityOut, summary="Express Entry eligibility")
async def eligibility(body: schemas.EligibilityIn, day: Today) -> Response:
    """FSW, CEC and FST checked criterion by criterion, a CRS estimate when one fits, and pointers
    to other routes."""
    return as_json(service.assess_eligibility(body, day))
