"""The enterprise registry (培育库, 001 二(三)): AI enterprises keyed by unified social credit code.

`registry` keeps the records (officials write, an enterprise's own org reads), `transfer` imports
and exports CSV/XLSX with a row-by-row report, `samples` makes marked demo enterprises, and
`credit_codes`, `regions` and `vocabulary` hold the checks every record passes.
"""

from aicommons.observatory.enterprises.credit_codes import (
    credit_code_problem,
    is_valid_credit_code,
)
from aicommons.observatory.enterprises.registry import (
    create_enterprise,
    delete_enterprise,
    get_enterprise,
    list_enterprises,
    own_enterprises,
    parse_enterprise,
    update_enterprise,
    vocabulary,
)
from aicommons.observatory.enterprises.samples import (
    DEFAULT_COUNT as DEFAULT_SAMPLE_COUNT,
)
from aicommons.observatory.enterprises.samples import (
    add_sample_enterprises,
    sample_enterprises,
)
from aicommons.observatory.enterprises.schemas import (
    EnterpriseCreate,
    EnterpriseRead,
    EnterpriseUpdate,
    ImportReport,
    RowError,
    SampleReport,
    Vocabulary,
)
from aicommons.observatory.enterprises.transfer import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    export_enterprises,
    import_enterprises,
)
from aicommons.observatory.enterprises.vocabulary import AIField, Tier

__all__ = [
    "DEFAULT_SAMPLE_COUNT",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "AIField",
    "EnterpriseCreate",
    "EnterpriseRead",
    "EnterpriseUpdate",
    "ImportReport",
    "RowError",
    "SampleReport",
    "Tier",
    "Vocabulary",
    "add_sample_enterprises",
    "create_enterprise",
    "credit_code_problem",
    "delete_enterprise",
    "export_enterprises",
    "get_enterprise",
    "import_enterprises",
    "is_valid_credit_code",
    "list_enterprises",
    "own_enterprises",
    "parse_enterprise",
    "sample_enterprises",
    "update_enterprise",
    "vocabulary",
]  # fmt: skip
