"""The compute service's money side: a double-entry ledger per org, vouchers (算力券, 智评券) and
charges computed from metered usage.

- `ledger.py`: accounts, balanced and idempotent transactions, top-ups, reads.
- `vouchers.py`: issuing vouchers and which of them cover a charge.
- `charges.py`: a charge paid by vouchers first, then the prepaid balance; balances.
- `prices.py` + `prices.yaml`: the price list of metered usage.
- `usage.py`: the charging run over serving's metering rows and finished jobs.
- `reconciliation.py`: ledger totals against metered usage × price.
"""

from aicommons.compute.charges import charge, get_balance
from aicommons.compute.ledger import (
    InsufficientFunds,
    get_transaction,
    list_accounts,
    list_transactions,
    topup,
)
from aicommons.compute.prices import PriceList, load_prices
from aicommons.compute.reconciliation import reconcile
from aicommons.compute.schemas import (
    AccountRead,
    ChargeCreate,
    OrgBalance,
    ReconciliationReport,
    TopupCreate,
    TransactionRead,
    UsageChargeRun,
    VoucherCreate,
    VoucherKind,
    VoucherRead,
)
from aicommons.compute.usage import charge_usage
from aicommons.compute.vouchers import get_voucher, issue_voucher, list_vouchers, page_vouchers

__all__ = [
    "AccountRead", "ChargeCreate", "InsufficientFunds", "OrgBalance", "PriceList", "ReconciliationReport", "TopupCreate", "TransactionRead",
    "UsageChargeRun", "VoucherCreate", "VoucherKind", "VoucherRead", "charge", "charge_usage", "get_balance", "get_transaction",
    "get_voucher", "issue_voucher", "list_accounts", "list_transactions", "list_vouchers", "load_prices", "page_vouchers",
    "reconcile", "topup",
]
