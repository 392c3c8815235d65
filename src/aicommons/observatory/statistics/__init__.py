"""Policy targets, quarterly statistics, progress and the annual regional comprehensive evaluation.

001 七(四) asks for quarterly statistics and monitoring (按季度统计、发布相关数据) and a yearly comprehensive
evaluation of each region (每年对各地人工智能产业发展情况进行综合评价); 001 一(二) and 004 一(二), among
others, set the numeric targets to measure against.

- `targets` + ``targets.yaml``: every numeric target of the five policies, each citing its clause
  and quoting its Chinese phrase, and the catalogue of indicators they are measured by.
- `indicators`: that catalogue and the platform indicators computed from the platform's own records
  (registry `platform_indicators`).
- `observations`: quarterly values per indicator, region and quarter: recorded by officials,
  imported from CSV row by row, or computed; re-recording supersedes, with audit.
- `progress` + `trends`: each target's latest value, share, least-squares trend (CAGR for growth
  targets), projection at the deadline and verdict, with the arithmetic in words.
- `evaluations` + `composite`: the regional composite index (min-max or z-score, entropy or given
  weights), ranks, change on the year before, strongest and weakest indicator.
- `samples`: the demo's seeded figures, marked as sample data.
"""

from aicommons.observatory.statistics.areas import Area, find_area
from aicommons.observatory.statistics.evaluations import (
    get_evaluation,
    get_ranking,
    list_evaluations,
    run_evaluation,
)
from aicommons.observatory.statistics.indicators import (
    PlatformIndicator,
    Reading,
    find_indicator,
    list_indicators,
    platform_indicators,
)
from aicommons.observatory.statistics.observations import (
    MAX_CSV_BYTES,
    compute_observations,
    import_observations,
    list_observations,
    record_observation,
)
from aicommons.observatory.statistics.periods import Quarter, parse_quarter
from aicommons.observatory.statistics.progress import (
    AT_RISK,
    ON_TRACK,
    get_progress,
    list_progress,
)
from aicommons.observatory.statistics.samples import (
    SAMPLE_EVALUATION,
    add_sample_observations,
)
from aicommons.observatory.statistics.schemas import (
    ComputeRequest,
    Direction,
    EvaluationCreate,
    EvaluationIndicator,
    EvaluationRead,
    ImportProblem,
    ImportReport,
    IndicatorRead,
    ObservationCreate,
    ObservationRead,
    ProgressRead,
    RegionScore,
    TargetRead,
    Verdict,
)
from aicommons.observatory.statistics.targets import get_target, list_targets

__all__ = [
    "AT_RISK", "MAX_CSV_BYTES", "ON_TRACK", "SAMPLE_EVALUATION", "Area", "ComputeRequest", "Direction", "EvaluationCreate", "EvaluationIndicator",
    "EvaluationRead", "ImportProblem", "ImportReport", "IndicatorRead", "ObservationCreate", "ObservationRead", "PlatformIndicator",
    "ProgressRead", "Quarter", "Reading", "RegionScore", "TargetRead", "Verdict", "add_sample_observations", "compute_observations",
    "find_area", "find_indicator", "get_evaluation", "get_progress", "get_ranking", "get_target", "import_observations",
    "list_evaluations", "list_indicators", "list_observations", "list_progress", "list_targets", "parse_quarter",
    "platform_indicators", "record_observation", "run_evaluation",
]  # fmt: skip
