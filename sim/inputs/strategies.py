"""Treatment strategies as data (DESIGN.md section 3).

A strategy says which index therapy a patient gets, where the CAR-T product comes from,
which transplant platform follows and when. The four built-in strategies are contracts; a
scenario can add its own, starting from a built-in one (``base``) and changing fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from sim.inputs.errors import MISSING, InputError, show_value
from sim.inputs.limits import MAX_DAYS, MAX_MULTIPLIER, MAX_NAME_LENGTH
from sim.inputs.validation import StrictModel, first_error, key_list

IndexTherapy = Literal["cart", "chemo"]
CartSource = Literal["case_mix", "autologous", "donor_derived", "universal"]
Platform = Literal["none", "haplo_no_prophylaxis", "conventional"]
HsctFor = Literal["all_in_cr", "mrd_positive"]
Salvage = Literal["none", "dli", "second_cart"]


NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
"""Names of scenarios and strategies: letters, digits, ``_``, ``.`` and ``-``, not starting with a dot
(they become folder and column names: ``.`` or ``..`` would name the results folder or its parent)."""


class Strategy(StrictModel):
    """One treatment strategy.

    Attributes
    ----------
    name : str
        Identifier used in output tables.
    description : str
        One line for people.
    index_therapy : {"cart", "chemo"}
        CD7 CAR-T, or salvage chemotherapy.
    cart_source : {"case_mix", "autologous", "donor_derived", "universal"}
        Product source; ``case_mix`` takes each patient's source from the scenario.
    hsct_platform : {"none", "haplo_no_prophylaxis", "conventional"}
        Consolidation: none, haplo-HSCT without conditioning or GVHD prophylaxis (Hu), or
        conventional allo-HSCT with conditioning and prophylaxis.
    hsct_uptake : float, optional
        Probability that an eligible patient in CR is transplanted; default from the parameters.
    hsct_interval_days : float, optional
        Median days from infusion (or chemotherapy start) to HSCT; default from the parameters.
    cd7_negative_multiplier : float
        Multiplier on CD7-negative non-response and relapse (1 = CD7 CAR-T as studied; below 1 for
        example for a dual-target product).
    prevented_escape_to_cd7_positive : float
        When ``cd7_negative_multiplier`` is below 1, the share of the prevented CD7-negative escapes
        that become CD7-positive non-response or relapse instead (0: all prevented escapes are cured;
        1: the product changes only which antigen the leukaemia loses). Default 0.5, an assumption:
        no dual-target CD7 product has been studied (range 0-1).
    hsct_for : {"all_in_cr", "mrd_positive"}
        Who among the eligible patients in CR is transplanted: all of them, or only those whose CR is
        MRD-positive at the response assessment (an MRD-guided strategy).
    salvage_after_hsct_relapse : {"none", "dli", "second_cart"}
        Treatment offered at a relapse after HSCT: none (the default, as in the studies), donor
        lymphocyte infusion, or a second CD7 CAR-T infusion; a response to it lengthens survival with
        the disease (parameters ``salvage_*``, all assumptions).
    """

    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    description: str = ""
    index_therapy: IndexTherapy
    cart_source: CartSource = "case_mix"
    hsct_platform: Platform
    hsct_uptake: float | None = Field(default=None, ge=0.0, le=1.0)
    hsct_interval_days: float | None = Field(default=None, gt=0.0, le=MAX_DAYS)
    cd7_negative_multiplier: float = Field(default=1.0, ge=0.0, le=MAX_MULTIPLIER)
    prevented_escape_to_cd7_positive: float = Field(default=0.5, ge=0.0, le=1.0)
    hsct_for: HsctFor = "all_in_cr"
    salvage_after_hsct_relapse: Salvage = "none"

    @model_validator(mode="after")
    def _coherent(self) -> Strategy:
        if self.hsct_platform == "haplo_no_prophylaxis" and self.index_therapy != "cart":
            raise ValueError("hsct_platform 'haplo_no_prophylaxis' needs index_therapy 'cart' (it relies on CAR-T aplasia)")
        if self.salvage_after_hsct_relapse != "none" and self.hsct_platform == "none":
            raise ValueError("salvage_after_hsct_relapse needs a transplant (hsct_platform other than 'none')")
        return self

    @property
    def transplant_parameters(self) -> TransplantParameters:
        """Names of the parameters of this strategy's transplant platform after its index therapy.

        Raises
        ------
        KeyError
            For a strategy without transplant (``hsct_platform`` ``none``).
        """
        return TRANSPLANT_PARAMETERS[(self.hsct_platform, self.index_therapy)]


@dataclass(frozen=True)
class TransplantParameters:
    """Names of the parameters that depend on the transplant platform and the index therapy before it.

    Attributes
    ----------
    uptake : str
        Probability that an eligible patient in CR is transplanted.
    interval_days : str
        Median days from infusion (or chemotherapy start) to HSCT.
    autologous_recovery, graft_failure : str
        Probabilities of autologous recovery and of graft failure.
    agvhd2plus, agvhd3plus_given_2plus, cgvhd : str
        Probabilities of acute GVHD grade >= 2, of grade >= 3 given >= 2, and of chronic GVHD.
    relapse, nrm : str
        Probabilities of relapse (with a full-donor graft, MRD-negative CR) and of non-relapse death
        after HSCT (ages 18-45).
    relapse_cd7_negative_share : str
        Share of relapses after HSCT with a full-donor graft that are CD7-negative.
    """

    uptake: str
    interval_days: str
    autologous_recovery: str
    graft_failure: str
    agvhd2plus: str
    agvhd3plus_given_2plus: str
    cgvhd: str
    relapse: str
    nrm: str
    relapse_cd7_negative_share: str


_HAPLO_GRAFT = {"autologous_recovery": "autologous_recovery_haplo", "graft_failure": "graft_failure_haplo",
                "agvhd2plus": "agvhd2plus_haplo_no_prophylaxis",
                "agvhd3plus_given_2plus": "agvhd3plus_given_2plus_haplo_no_prophylaxis", "cgvhd": "cgvhd_haplo_no_prophylaxis"}
_CONVENTIONAL_GRAFT = {"autologous_recovery": "autologous_recovery_conventional", "graft_failure": "graft_failure_conventional",
                       "agvhd2plus": "agvhd2plus_conventional", "agvhd3plus_given_2plus": "agvhd3plus_given_2plus_conventional",
                       "cgvhd": "cgvhd_conventional"}
TRANSPLANT_PARAMETERS: dict[tuple[Platform, IndexTherapy], TransplantParameters] = {
    ("haplo_no_prophylaxis", "cart"): TransplantParameters(
        uptake="hsct_uptake_haplo_no_prophylaxis", interval_days="hsct_interval_haplo_days", **_HAPLO_GRAFT,
        relapse="relapse_haplo_no_prophylaxis", nrm="nrm_haplo_no_prophylaxis",
        relapse_cd7_negative_share="cd7_negative_share_of_relapse_after_cart"),
    ("conventional", "cart"): TransplantParameters(
        uptake="hsct_uptake_conventional_after_cart", interval_days="hsct_interval_conventional_days", **_CONVENTIONAL_GRAFT,
        relapse="relapse_conventional_after_cart", nrm="nrm_conventional_after_cart",
        relapse_cd7_negative_share="cd7_negative_share_of_relapse_after_conventional_hsct"),
    ("conventional", "chemo"): TransplantParameters(
        uptake="hsct_uptake_conventional_after_chemo", interval_days="hsct_interval_chemo_days", **_CONVENTIONAL_GRAFT,
        relapse="relapse_conventional_after_chemo", nrm="nrm_conventional_after_chemo",
        relapse_cd7_negative_share="cd7_negative_share_of_relapse_after_chemo"),
}
"""The parameter names of each (transplant platform, index therapy) a strategy may combine (a
strategy without transplant has none; haplo-HSCT without prophylaxis needs CAR-T first). A new
platform adds its row here and its parameters to ``calibration/parameters.yaml``."""


BUILTIN_STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            name="cart_haplo_no_prophylaxis",
            description="Donor-derived CD7 CAR-T, then haplo-HSCT within ~1 month in CRi, no conditioning, no GVHD prophylaxis (Hu 2024)",
            index_therapy="cart", cart_source="donor_derived", hsct_platform="haplo_no_prophylaxis",
        ),
        Strategy(
            name="cart_bridge_allo",
            description="CD7 CAR-T; responders proceed to conventional allo-HSCT at ~2 months (Cao 2024)",
            index_therapy="cart", hsct_platform="conventional",
        ),
        Strategy(
            name="cart_alone",
            description="CD7 CAR-T without consolidation (Xiao 2025, no-HSCT arm)",
            index_therapy="cart", hsct_platform="none",
        ),
        Strategy(
            name="chemo_allo",
            description="Salvage chemotherapy; patients in CR proceed to allo-HSCT (Cao 2024 controls)",
            index_therapy="chemo", hsct_platform="conventional",
        ),
    )
}


def resolve_strategy(entry: Any, field: str) -> Strategy:
    """Turn a scenario's strategy entry into a :class:`Strategy`.

    Parameters
    ----------
    entry : str or mapping
        A built-in name, or a mapping with ``name`` and fields; ``base`` names a built-in to start
        from (a mapping whose ``name`` is a built-in, without ``base``, overrides that built-in).
    field : str
        Where the entry sits in the scenario, for messages.

    Raises
    ------
    InputError
        For an unknown name or base, a mapping without a name, or an invalid field.
    """
    builtins = ", ".join(BUILTIN_STRATEGIES)
    if isinstance(entry, str) and entry in BUILTIN_STRATEGIES:
        return BUILTIN_STRATEGIES[entry]
    if not isinstance(entry, dict):
        raise InputError(field, entry, f"a strategy must be one of {builtins}, or a mapping with name and fields")
    fields = dict(entry)
    if "name" not in fields:
        raise InputError(f"{field}.name", MISSING, "a strategy given as a mapping needs a name (letters, digits, _ . -)")
    base = fields.pop("base", fields["name"] if _is_builtin(fields["name"]) else None)
    if "base" in entry and not _is_builtin(base):
        raise InputError(f"{field}.base", base, f"base must be one of {builtins}")
    if _is_builtin(fields["name"]) and base != fields["name"]:
        raise InputError(f"{field}.name", fields["name"], "a built-in strategy's name may only override that built-in "
                         f"(without base, or with base {show_value(fields['name'])}); give this strategy a name of its own")
    if base is not None:
        fields = {**BUILTIN_STRATEGIES[base].model_dump(exclude={"name", "description"}), **fields}
    try:
        return Strategy.model_validate(fields)
    except ValidationError as error:
        where, value, what = first_error(error, Strategy)
        raise InputError(f"{field}.{where}".rstrip("."), value, what) from None


def _is_builtin(name: Any) -> bool:
    return isinstance(name, str) and name in BUILTIN_STRATEGIES


def check_unique_names(strategies: Sequence[Strategy], field: str = "strategies") -> None:
    """Refuse two strategies of the same name (a built-in listed beside a mapping that overrides it
    included: the results could not tell them apart).

    Raises
    ------
    InputError
        Naming the second entry, its name and the first entry with that name.
    """
    first: dict[str, int] = {}
    for index, strategy in enumerate(strategies):
        if strategy.name in first:
            raise InputError(f"{field}[{index}]", strategy.name, (
                f"strategy names must be unique, and {field}[{first[strategy.name]}] is also {show_value(strategy.name)} "
                "(to change a built-in strategy, list it once, as a mapping)"))
        first[strategy.name] = index


VARIABLE_FIELDS: tuple[str, ...] = (
    "hsct_uptake", "hsct_interval_days", "cd7_negative_multiplier", "prevented_escape_to_cd7_positive", "hsct_for",
    "salvage_after_hsct_relapse", "hsct_platform", "cart_source",
)
"""Strategy fields a decision over variants may vary (``cd7sim psa --vary FIELD=V1,V2,...``)."""


def strategy_variants(strategy: Strategy, field: str, values: Sequence[Any]) -> list[Strategy]:
    """Copies of ``strategy`` that differ only in ``field``, one per value, named ``<name>-<field>-<value>``:
    for example the same strategy with HSCT at day 25, 40, 60 and 90 (``hsct_interval_days``), to compare as
    strategies of their own.

    Raises
    ------
    InputError
        Naming ``--vary`` for a field that cannot vary, a repeated value, or a value the field does not allow.
    """
    if field not in VARIABLE_FIELDS:
        raise InputError("--vary", field, f"one of {key_list(VARIABLE_FIELDS)} is required")
    if len(set(map(str, values))) != len(values) or len(values) < 2:
        raise InputError(f"--vary {field}", ",".join(map(str, values)), "at least two distinct values are required")
    variants = []
    for value in values:
        label = f"{value:g}" if isinstance(value, float) else str(value)
        try:
            variants.append(Strategy.model_validate({**strategy.model_dump(), field: value, "name": f"{strategy.name}-{field}-{label}"}))
        except ValidationError as error:
            _, bad, allowed = first_error(error, Strategy)
            raise InputError(f"--vary {field}", bad, allowed) from None
    return variants
