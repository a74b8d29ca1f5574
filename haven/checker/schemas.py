"""The JSON API's request bodies (pydantic), and their translation into the rules' own types.

Field names and values follow the published API (`/api/v1/openapi.json`). Unknown fields are refused
(422 naming them) so a typo never silently scores as a default.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from haven.rules import crs, programs
from haven.rules.clb import Test
from haven.rules.common import Education, Language

Years = Annotated[int, Field(ge=0, le=60, description="Whole years, 0 to 60.")]

# The request body the documentation shows (a single 29-year-old with a bachelor's degree, IELTS and
# three years of work abroad: 429 points).
CRS_EXAMPLE: Final[dict[str, Any]] = {
    "age": 29,
    "education": "bachelor",
    "canadian_education": "none",
    "first_language": {
        "language": "en",
        "test": "ielts_general",
        "reading": 7.5,
        "writing": 7,
        "listening": 8,
        "speaking": 7,
    },
    "second_language": None,
    "canadian_work_years": 0,
    "foreign_work_years": 3,
    "certificate_of_qualification": False,
    "provincial_nomination": False,
    "sibling_in_canada": False,
    "spouse": None,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LanguageTestIn(BaseModel):
    """One language test result. ``test: "clb"`` means the four numbers are CLB/NCLC levels."""

    language: Language = Field(description="en (English) or fr (French).")
    test: Test
    reading: float
    writing: float
    listening: float
    speaking: float

    @field_validator("reading", "writing", "listening", "speaking")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a number")
        return value

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "language": "en",
                    "test": "ielts_general",
                    "reading": 7.5,
                    "writing": 7,
                    "listening": 8,
                    "speaking": 7,
                }
            ]
        },
    )


class ClbIn(LanguageTestIn):
    pass


class SpouseIn(Strict):
    accompanying: bool = Field(description="Coming with you to Canada.")
    canadian_citizen_or_pr: bool = Field(description="Already a Canadian citizen or permanent resident.")
    education: Education = Education.LESS_THAN_SECONDARY
    language: LanguageTestIn | None = None
    canadian_work_years: Years = 0


class CrsIn(Strict):
    age: int = Field(ge=0, le=120)
    education: Education
    canadian_education: crs.CanadianEducation = crs.CanadianEducation.NONE
    first_language: LanguageTestIn
    second_language: LanguageTestIn | None = None
    canadian_work_years: Years = 0
    foreign_work_years: Years = 0
    certificate_of_qualification: bool = False
    provincial_nomination: bool = False
    sibling_in_canada: bool = False
    spouse: SpouseIn | None = None
    job_offer: crs.JobOffer = Field(
        crs.JobOffer.NONE, description="Arranged employment; earns 0 points since 2025-03-25."
    )
    as_of: dt.date | None = Field(
        None, description="Score under the rules in force that day (default: today)."
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [CRS_EXAMPLE]},
    )


class AdaptabilityIn(Strict):
    spouse_language_clb4: bool = False
    studied_in_canada: bool = False
    spouse_studied_in_canada: bool = False
    worked_in_canada: bool = False
    spouse_worked_in_canada: bool = False
    relative_in_canada: bool = False


class FswIn(Strict):
    age: int = Field(ge=0, le=120)
    education: Education
    education_recognized: bool = Field(
        description="A Canadian credential, or a foreign one with an educational credential assessment."
    )
    first_language: LanguageTestIn | None = None
    second_language: LanguageTestIn | None = None
    skilled_work_years: Years = Field(
        description="Paid, full-time or equivalent, TEER 0-3 work in the last 10 years."
    )
    continuous_year_in_one_occupation: bool = True
    arranged_employment: bool = False
    authorized_to_work_in_canada: bool = False
    settlement_funds: int = Field(0, ge=0, le=1_000_000_000, description="Canadian dollars.")
    family_size: int = Field(1, ge=1, le=30)
    plans_to_live_in_quebec: bool = False
    adaptability: AdaptabilityIn = Field(default_factory=AdaptabilityIn)
    as_of: dt.date | None = None


class PartnerIn(Strict):
    education: Education = Education.LESS_THAN_SECONDARY
    language: LanguageTestIn | None = None
    canadian_work_years: Years = 0
    studied_in_canada: bool = False


class EligibilityIn(Strict):
    status: programs.Status
    age: int = Field(ge=0, le=120)
    education: Education
    education_recognized: bool
    canadian_education: crs.CanadianEducation = crs.CanadianEducation.NONE
    canadian_study_years: Years = 0
    first_language: LanguageTestIn | None = None
    second_language: LanguageTestIn | None = None
    canadian_work_years: Years = 0
    canadian_work_recent_teer: programs.Teer | None = Field(
        None, description="Set when a year of the Canadian work falls in the last 3 years: its TEER."
    )
    foreign_work_years: Years = 0
    continuous_year_in_one_occupation: bool = False
    trade_years_last_5: Years = 0
    certificate_of_qualification: bool = False
    job_offer: bool = False
    provincial_nomination: bool = False
    relative: programs.Relative = programs.Relative.NONE
    settlement_funds: int = Field(0, ge=0, le=1_000_000_000)
    family_size: int = Field(1, ge=1, le=30)
    plans_to_live_in_quebec: bool = False
    partner: programs.Partner = programs.Partner.NONE
    partner_details: PartnerIn = Field(default_factory=PartnerIn)
    as_of: dt.date | None = None


# Responses


class Bilingual(BaseModel):
    en: str
    fr: str


class LevelsOut(BaseModel):
    language: Language
    levels: dict[str, int]
    lowest: int


class ClbOut(LevelsOut):
    test: Test
    rules_version: str


class CrsFactorOut(BaseModel):
    section: crs.Section
    points: int
    maximum: int
    parts: dict[str, int]
    label: Bilingual


class CrsOut(BaseModel):
    total: int = Field(ge=0, le=1200)
    core: int
    spouse: int
    transferability: int
    additional: int
    with_spouse: bool
    rules_version: str
    details: dict[str, CrsFactorOut]


class RequirementOut(BaseModel):
    code: str
    met: bool
    facts: dict[str, bool | int | str]
    message: Bilingual


class FswFactorOut(BaseModel):
    points: int
    maximum: int
    parts: dict[str, int]
    label: Bilingual


class FswOut(BaseModel):
    eligible: bool
    total: int = Field(ge=0, le=100)
    pass_mark: int
    factors: dict[str, FswFactorOut]
    requirements: list[RequirementOut]
    funds_required: int | None
    rules_version: str


class ProgramOut(BaseModel):
    program: programs.Program
    name: Bilingual
    eligible: bool
    requirements: list[RequirementOut]


class PointerOut(BaseModel):
    route: programs.Route
    reason: str
    message: Bilingual


class EligibilityOut(BaseModel):
    settled: programs.Status | None
    programs: list[ProgramOut]
    crs: CrsOut | None
    fsw_grid: FswOut | None
    pointers: list[PointerOut]
    rules_version: str


class ErrorDetail(BaseModel):
    status: int
    message: str


class ErrorOut(BaseModel):
    """Errors other than validation: a body that is not JSON (400), an unknown address (404)."""

    error: ErrorDetail
