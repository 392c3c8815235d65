"""What an item of 002 三 entitles an application to, with the arithmetic written out.

Pure functions of an item, a level and the base amounts; what other applications already
received (the overlap rule and the yearly caps) is applied on top by `applications`.

- ``fixed``: the level's amount.
- ``up_to``: min(requested, cap of the level); where the text sets no cap the requested amount
  stands, and the reviewer checks it against the rule the text names.
- ``share``: rate × base, rounded half up to the fen, then min(…, cap) when the item has a cap.
- ``tiers``: every share part / whole is computed; the highest tier whose minimum every share
  reaches (均达到) pays its amount. Shares are compared exactly (part ≥ min × whole), never rounded.

Conditions are checked first: an unmet one makes the application ineligible (amount 0) and says why.
`parse_inputs` refuses, before anything is computed, a level the item does not have and a base
amount that is missing, unknown, negative or not a plain number of its unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from aicommons.core.errors import Invalid
from aicommons.observatory.subsidies.rules import UNIT_LABELS, Fixed, Item, Share, Tiers, UpTo

FEN = Decimal("0.01")
MAX_BASE = Decimal(10) ** 13  # ten trillion: above any project's figures, far inside a BigInteger of fen


@dataclass
class Entitlement:
    """What the item gives before other applications are considered; `steps` is the arithmetic."""

    amount: Decimal
    eligible: bool
    level: str | None
    steps: list[str] = field(default_factory=list)


def yuan(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def round_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def _show(item: Item, name: str, value: Decimal) -> str:
    unit = item.bases[name].unit
    shown = yuan(value) if unit == "yuan" else f"{value:,f}"
    return f"{name} {shown}{' ' + UNIT_LABELS[unit] if UNIT_LABELS[unit] else ''}"


def _level(item: Item, level: str | None) -> str | None:
    levels = item.levels
    choices = ", ".join(f"{key} ({label})" for key, label in levels.items())
    if not levels:
        if level is not None:
            raise Invalid(f"Item {item.id!r} ({item.clause}) has no levels; the 'level' must be left out; got {level!r} instead.")
        return None
    if level is None:
        if len(levels) == 1:
            return next(iter(levels))
        if isinstance(item.formula, Tiers):
            return None  # the bases decide the tier
        raise Invalid(f"Item {item.id!r} ({item.clause}) needs a 'level', one of {choices}; none was given.")
    if level not in levels:
        raise Invalid(f"The 'level' of item {item.id!r} ({item.clause}) must be one of {choices}; got {level!r} instead.")
    return level


def _number(item: Item, name: str, raw: object) -> Decimal:
    spec = item.bases[name]
    expected = "a whole number" if spec.unit == "count" else f"a number of {spec.unit} with at most two decimals"
    try:
        value = Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        value = None
    if isinstance(raw, bool) or value is None or not value.is_finite() or not 0 <= value <= MAX_BASE:
        raise Invalid(f"The base {name!r} of item {item.id!r} must be {expected} from 0 to {MAX_BASE:,}; got {raw!r} instead.")
    if value != (value.to_integral_value() if spec.unit == "count" else value.quantize(FEN)):
        raise Invalid(f"The base {name!r} of item {item.id!r} must be {expected}; got {raw!r} instead.")
    return value


def parse_inputs(item: Item, level: str | None, bases: dict[str, object]) -> tuple[str | None, dict[str, Decimal]]:
    """The level (the item's only one when left out) and the bases as numbers; Invalid for anything else."""
    chosen = _level(item, level)
    needed = ", ".join(f"{name} ({spec.label}, {spec.unit})" for name, spec in item.bases.items()) or "none"
    unknown = sorted(set(bases) - set(item.bases))
    if unknown:
        raise Invalid(f"Item {item.id!r} ({item.clause}) takes the base amounts {needed}; {', '.join(map(repr, unknown))} is not one of them.")
    missing = [name for name in item.bases if name not in bases or bases[name] is None]
    if missing:
        raise Invalid(f"Item {item.id!r} ({item.clause}) needs the base amounts {needed}; {', '.join(map(repr, missing))} was not given.")
    values = {name: _number(item, name, bases[name]) for name in item.bases}
    for part, whole in item.within.items():
        if values[part] > values[whole]:
            raise Invalid(f"The base {part!r} of item {item.id!r} is part of {whole!r} and may not exceed it; got {values[part]} > {values[whole]}.")
    if isinstance(item.formula, Tiers):
        for share in item.formula.shares:
            if values[share.whole] == 0 or values[share.part] > values[share.whole]:
                raise Invalid(
                    f"The share {share.label} of item {item.id!r} is {share.part} / {share.whole}: {share.whole} must be above 0 "
                    f"and at least {share.part}; got {values[share.part]} / {values[share.whole]}."
                )
    return chosen, values


def entitlement(item: Item, level: str | None, bases: dict[str, Decimal]) -> Entitlement:
    """The item's amount for `level` and `bases` (as returned by `parse_inputs`)."""
    result = Entitlement(Decimal(0), True, level, [f"{item.clause} {item.id}: {item.text}"])
    for condition in item.conditions:
        value = bases[condition.base]
        met = value > condition.min if condition.strict else value >= condition.min
        sign = ">" if condition.strict else "≥"
        result.steps.append(f"Condition {condition.text}: {_show(item, condition.base, value)} {sign} {yuan(condition.min)}? {'met' if met else 'NOT met'}")
        if not met:
            result.eligible = False
    if not result.eligible:
        result.steps.append("Not eligible: 0.00")
        return result
    formula = item.formula
    if isinstance(formula, Fixed):
        _fixed(formula, result)
    elif isinstance(formula, UpTo):
        _up_to(item, formula, bases, result)
    elif isinstance(formula, Share):
        _share(item, formula, bases, result)
    else:
        _tiers(item, formula, bases, result)
    return result


def _fixed(formula: Fixed, result: Entitlement) -> None:
    chosen = formula.levels[result.level or ""]
    result.amount = chosen.amount
    result.steps.append(f"Fixed amount for {result.level} ({chosen.label}): {yuan(chosen.amount)}")


def _up_to(item: Item, formula: UpTo, bases: dict[str, Decimal], result: Entitlement) -> None:
    requested = bases[formula.base]
    cap, where = formula.cap, "the item"
    if formula.levels is not None:
        chosen = formula.levels[result.level or ""]
        cap, where = chosen.cap, f"{result.level} ({chosen.label})"
    if cap is None:
        result.amount = requested
        result.steps.append(f"Requested {yuan(requested)}; the text sets no cap for {where}: the rule it names fixes the amount → {yuan(requested)}")
    else:
        result.amount = min(requested, cap)
        result.steps.append(f"min(requested {yuan(requested)}, cap for {where} {yuan(cap)}) = {yuan(result.amount)}")


def _share(item: Item, formula: Share, bases: dict[str, Decimal], result: Entitlement) -> None:
    base = bases[formula.base]
    share = round_fen(formula.rate * base)
    result.steps.append(f"{percent(formula.rate)} × {_show(item, formula.base, base)} = {yuan(share)}")
    result.amount = share
    if formula.cap is not None:
        result.amount = min(share, formula.cap)
        result.steps.append(f"min({yuan(share)}, cap {yuan(formula.cap)}) = {yuan(result.amount)}")


def _tiers(item: Item, formula: Tiers, bases: dict[str, Decimal], result: Entitlement) -> None:
    for share in formula.shares:
        part, whole = bases[share.part], bases[share.whole]
        result.steps.append(f"{share.label} = {share.part} {part:,f} / {share.whole} {whole:,f} = {percent(round(part / whole, 4))}")
    reached = [
        key for key, tier in formula.tiers.items()
        if all(bases[s.part] >= tier.min_share * bases[s.whole] for s in formula.shares)
    ]  # fmt: skip
    best = max(reached, key=lambda key: formula.tiers[key].min_share, default=None)
    claimed = result.level
    if best is None:
        lowest = min(formula.tiers.values(), key=lambda tier: tier.min_share)
        result.eligible = False
        result.steps.append(f"Not every share reaches {percent(lowest.min_share)} (均达到): no tier → 0.00")
        return
    if claimed is not None and formula.tiers[claimed].min_share > formula.tiers[best].min_share:
        result.eligible = False
        result.steps.append(f"Tier {claimed} ({formula.tiers[claimed].label}) was named but the shares reach only {best}: not eligible for it → 0.00")
        return
    tier = formula.tiers[best]
    result.level, result.amount = best, tier.amount
    result.steps.append(f"Every share reaches {percent(tier.min_share)}: tier {best} ({tier.label}) → {yuan(tier.amount)}")


def describe(item: Item) -> str:
    """The item's rule in words, e.g. "fixed by level: national 10,000,000.00; provincial 2,000,000.00"."""
    formula = item.formula
    if isinstance(formula, Fixed):
        rule = "fixed by level: " + "; ".join(f"{key} ({level.label}) {yuan(level.amount)}" for key, level in formula.levels.items())
    elif isinstance(formula, UpTo):
        caps = {key: level.cap for key, level in formula.levels.items()} if formula.levels else {"": formula.cap}
        shown = "; ".join(f"{key + ' ' if key else ''}{'at most ' + yuan(cap) if cap is not None else 'no cap (the rule it names)'}" for key, cap in caps.items())
        rule = f"the amount applied for ({formula.base}): {shown}"
    elif isinstance(formula, Share):
        rule = f"{percent(formula.rate)} of {formula.base}" + (f", at most {yuan(formula.cap)}" if formula.cap is not None else "")
    else:
        shares = " and ".join(f"{s.part}/{s.whole}" for s in formula.shares)
        rule = f"tiers, every share ({shares}) reaching: " + "; ".join(f"{percent(t.min_share)} → {yuan(t.amount)}" for t in formula.tiers.values())
    extras = [f"if {c.base} {'>' if c.strict else '≥'} {yuan(c.min)}" for c in item.conditions]
    if item.yearly_cap is not None:
        extras.append(f"at most {yuan(item.yearly_cap)} per entity per year")
    if item.max_years is not None:
        extras.append(f"for at most {item.max_years} years per project")
    return rule + "".join(f"; {extra}" for extra in extras)
