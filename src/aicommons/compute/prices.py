"""The price list: yuan per compute-second and per 1,000 calls for each service.

The shipped list is `prices.yaml` beside this module; `load_prices(path)` reads another one of the
same shape. Prices are Decimals (a float in the file is refused), and each metered item's price is
rounded half-up to whole fen once, so reconciliation can recompute every bill exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BeforeValidator, Field, ValidationError

from aicommons.core.errors import Invalid
from aicommons.core.schemas import Schema

SHIPPED = Path(__file__).with_name("prices.yaml")


def _no_float(value: object) -> object:
    if isinstance(value, float):
        # ValueError, not TypeError: pydantic reports only the former as a validation error.
        raise ValueError(f"write prices as quoted decimal strings like \"0.002\", not the float {value!r}")  # noqa: TRY004
    return value


Yuan = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, max_digits=18, decimal_places=8)]


class ServicePrice(Schema):
    per_compute_second: Yuan = Decimal(0)
    per_thousand_calls: Yuan = Decimal(0)


class PriceList(Schema):
    currency: str = "CNY"
    services: dict[str, ServicePrice]
    job_services: dict[str, str] = Field(default_factory=dict, description="Job type -> the service it is billed as.")

    def price_fen(self, service: str, *, calls: int, compute_seconds: float) -> int:
        """The price of one metered item in fen. `compute_seconds` goes through its shortest
        decimal form, so the same stored float always prices the same."""
        price = self.service(service)
        yuan = Decimal(calls) / 1000 * price.per_thousand_calls + Decimal(repr(compute_seconds)) * price.per_compute_second
        return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def service(self, name: str) -> ServicePrice:
        if name not in self.services:
            raise Invalid(f"The 'service' must be one of the priced services ({', '.join(sorted(self.services))}); got {name!r} instead.")
        return self.services[name]


def load_prices(path: Path | None = None) -> PriceList:
    source = path or SHIPPED
    try:
        prices = PriceList.model_validate(yaml.safe_load(source.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise Invalid(f"The price list {str(source)!r} could not be read: {exc}.") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"The price list {str(source)!r} is invalid: {problems}.") from None
    unknown = sorted(set(prices.job_services.values()) - set(prices.services))
    if unknown:
        raise Invalid(f"The price list {str(source)!r} bills job types as unpriced services {unknown}; price them under 'services'.")
    return prices
