"""District subsidies of 002 三 (高新区（滨江）关于推进人工智能创新发展区建设的实施意见) and applications under them.

`rules` loads the items from the shipped ``rules.yaml`` (each citing its clause and quoting the
Chinese text), `formulas` computes an item's entitlement with the arithmetic in words, and
`applications` applies the 从高、从优、不重复 rule and the yearly caps, stores applications and
records officials' decisions.
"""

from aicommons.observatory.subsidies.applications import (
    apply_for_subsidy,
    approve_application,
    get_application,
    list_applications,
    quote_subsidy,
    reject_application,
)
from aicommons.observatory.subsidies.items import get_item, list_items, policy
from aicommons.observatory.subsidies.rules import Catalogue, Item, catalogue
from aicommons.observatory.subsidies.schemas import (
    ApplicationRead,
    Approval,
    ItemRead,
    PriorPayment,
    Quote,
    Rejection,
    Status,
    SubsidyRequest,
)

__all__ = [
    "ApplicationRead", "Approval", "Catalogue", "Item", "ItemRead", "PriorPayment", "Quote", "Rejection", "Status", "SubsidyRequest",
    "apply_for_subsidy", "approve_application", "catalogue", "get_application", "get_item", "list_applications", "list_items", "policy",
    "quote_subsidy", "reject_application",
]  # fmt: skip
