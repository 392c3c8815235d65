"""The registry's public shapes: an enterprise to register, a change to one, an enterprise as read, an import report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from aicommons.core.schemas import Schema
from aicommons.observatory.enterprises.credit_codes import (
    credit_code_problem,
    normalise,
)
from aicommons.observatory.enterprises.regions import resolve_region
from aicommons.observatory.enterprises.vocabulary import (
    AIField,
    Tier,
    field_from_text,
    tier_from_text,
)

FIRST_YEAR, LAST_YEAR = 1949, 2100
MAX_YUAN = 10**15  # a thousand trillion yuan: above any enterprise's revenue, below JSON's exact-integer range in practice
MAX_ITEMS = 100


def _credit_code(value: object) -> object:
    if not isinstance(value, str):
        return value
    code = normalise(value)
    problem = credit_code_problem(code)
    if problem:
        raise ValueError(f"The credit code {value.strip()!r} {problem}.")
    return code


CreditCode = Annotated[str, BeforeValidator(_credit_code), StringConstraints(min_length=18, max_length=18)]
def _no_formula(text: str) -> str:
    # Exports open in spreadsheets, which run a cell starting with one of these as a formula.
    if text[:1] in ("=", "+", "-", "@"):
        raise ValueError(f"Text may not start with =, +, - or @ (a spreadsheet would run it as a formula); got {text!r}.")
    return text


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_formula)]
TierValue = Annotated[Tier, BeforeValidator(tier_from_text)]
FieldValue = Annotated[AIField, BeforeValidator(field_from_text)]
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)]
Yuan = Annotated[int, Field(ge=0, le=MAX_YUAN)]
Count = Annotated[int, Field(ge=0, le=10**7)]


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


class EnterpriseFields(Schema):
    """What an official records about an enterprise; the region is checked against Zhejiang's list."""

    name: Text = Field(description="The registered name, e.g. 杭州某某科技有限公司.")
    city: Text = Field(description="A prefecture-level city of Zhejiang: 杭州市, 杭州, Hangzhou or 330100.")
    district: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        None, description="A district, county or county-level city of that city (滨江区, 滨江 or 330108); none when unknown."
    )
    tiers: list[TierValue] = Field(default_factory=list, max_length=len(Tier), description="Recognitions: tech-leader, little-giant, …")
    ai_fields: list[FieldValue] = Field(default_factory=list, max_length=len(AIField), description="AI fields: computer-vision, healthcare, …")
    revenue: dict[Year, Yuan] = Field(default_factory=dict, max_length=200, description="Operating revenue in yuan, by year.")
    invention_patents: Count = Field(0, description="Granted invention patents (发明专利).")
    standards: Count = Field(0, description="National, industry or group standards led or joined.")
    products: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS, description="AI products or solutions.")
    scenarios: list[Text] = Field(default_factory=list, max_length=MAX_ITEMS, description="Application scenarios served.")
    org_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = Field(
        None, description="The enterprise's own org on the platform, if it has one; that org may read this record."
    )
    sample: bool = Field(False, description="True for demo data, which is not a real enterprise's record.")

    @field_validator("tiers", "ai_fields", "products", "scenarios")
    @classmethod
    def _no_repeats(cls, values: list) -> list:
        return _unique(values)

    @model_validator(mode="after")
    def _known_region(self) -> EnterpriseFields:
        self.city, self.district = resolve_region(self.city, self.district)
        return self


class EnterpriseCreate(EnterpriseFields):
    credit_code: CreditCode = Field(description="The unified social credit code (统一社会信用代码), 18 characters.")


class EnterpriseUpdate(Schema):
    """Only the fields given change; `revenue` years given are set, the others kept."""

    name: Text | None = None
    city: Text | None = None
    district: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    tiers: list[TierValue] | None = Field(None, max_length=len(Tier))
    ai_fields: list[FieldValue] | None = Field(None, max_length=len(AIField))
    revenue: dict[Year, Yuan | None] | None = Field(None, max_length=200, description="Years to set; a null removes that year.")
    invention_patents: Count | None = None
    standards: Count | None = None
    products: list[Text] | None = Field(None, max_length=MAX_ITEMS)
    scenarios: list[Text] | None = Field(None, max_length=MAX_ITEMS)
    org_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        None, description="An org id to link, or an empty string to unlink."
    )
    sample: bool | None = None


class EnterpriseRead(EnterpriseCreate):
    created_at: datetime
    updated_at: datetime


class RowError(Schema):
    row: int = Field(description="The row as a spreadsheet numbers it: the header is row 1.")
    column: str | None = Field(description="The column as headed in the file; none for a problem with the whole row.")
    message: str


class ImportReport(Schema):
    format: str
    rows: int = Field(description="Data rows read (blank rows are skipped).")
    created: int
    updated: int
    unchanged: int
    failed: int = Field(description="Rows refused; each wrote nothing.")
    errors: list[RowError] = Field(description="The first problems found, row by row.")
    errors_omitted: int = Field(0, description="Problems found beyond those listed.")


class SampleReport(Schema):
    created: int
    updated: int
    unchanged: int


class VocabularyEntry(Schema):
    value: str
    label: str


class DistrictRead(Schema):
    code: str
    name: str


class CityRead(Schema):
    code: str
    name: str
    name_en: str
    districts: list[DistrictRead]


class Vocabulary(Schema):
    tiers: list[VocabularyEntry]
    ai_fields: list[VocabularyEntry]
    cities: list[CityRead]
