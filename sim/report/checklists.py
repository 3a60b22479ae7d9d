"""The reporting checklists of a report, answered from the run's record: STRESS-DES 1.0 (24 items; Monks et al.
2019, *J Simul* 13:55) for the simulation and CHEERS 2022 (28 items; Husereau et al. 2022, *BMJ* 376:e067975)
for the economic evaluation.

Each item is answered with where in the report (a section id) or the repository it is, or "Not applicable"
with a reason; the items the tool cannot know (funding, conflicts of interest, engagement with patients) are
left for the author, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["reported", "not_applicable", "author"]


@dataclass(frozen=True)
class Item:
    """One checklist item and its answer.

    Attributes
    ----------
    number : str
        The item's number in the checklist (``1.1`` ... ``6.1``; ``1`` ... ``28``).
    topic : str
        The item's name in the checklist.
    status : {"reported", "not_applicable", "author"}
        Where the item is answered: in the report (or the repository), not applicable, or left to the author.
    where : str
        The id of the report's section that answers it (empty when none does).
    answer : str
        What the report says for it, or why it does not apply, or what the author must add.
    """

    number: str
    topic: str
    status: Status
    where: str
    answer: str


@dataclass(frozen=True)
class RunFacts:
    """What the checklists' answers depend on.

    Attributes
    ----------
    open_cohort : bool
        Referrals arrive over time (a warm-up and a run length) rather than a closed cohort.
    warm_up_days, run_length_days : float
        The open cohort's warm-up and referral period (0 for a closed cohort).
    replications : int
    engine : str
        ``des`` or ``cohort``.
    capacity_limited : bool
        Some resource has a finite capacity.
    has_economics : bool
        The run folder holds an economic evaluation.
    has_psa : bool
        A PSA folder was given.
    """

    open_cohort: bool
    warm_up_days: float
    run_length_days: float
    replications: int
    engine: str
    capacity_limited: bool
    has_economics: bool
    has_psa: bool


AUTHOR = "For the author to complete"


def _reported(number: str, topic: str, where: str, answer: str) -> Item:
    return Item(number, topic, "reported", where, answer)


def stress_des(facts: RunFacts) -> list[Item]:
    """The 24 items of STRESS-DES 1.0, answered for this run."""
    if facts.open_cohort:
        initialisation = (f"Open cohort: the model starts empty and runs a warm-up of {facts.warm_up_days:g} days whose referrals "
                          "are left out of every measure.")
        run_length = (f"Referrals over {facts.run_length_days:g} days after the warm-up, each followed to the horizon; "
                      f"{facts.replications} replication(s).")
    else:
        initialisation = "Closed cohort: every patient is enrolled on day 0 into an empty service; no warm-up is needed."
        run_length = f"Each patient is followed to death or the scenario's horizon; {facts.replications} replication(s)."
    queues = ("First come, first served queues for apheresis, manufacturing slots, CAR-T, ICU and transplant beds and donor "
              "search; patients may leave a queue by progression, relapse or death." if facts.capacity_limited else
              "Every resource is unlimited in this scenario, so no patient queues; queue rules are in the README, "
              "\"Planning capacity\".")
    engine = ("the SimPy discrete-event engine" if facts.engine == "des" else
              "the vectorised cohort engine (the same model without queues; unlimited capacity only)")
    return [
        _reported("1.1", "Purpose of the model", "question", "The decision question and who it is for."),
        _reported("1.2", "Model outputs", "results", "Clinical, capacity and economic outputs with their definitions and "
                  "95% intervals (README, \"Output files\")."),
        _reported("1.3", "Experimentation aims", "question", "The strategies compared on the same patients; scenarios "
                  "and capacity sweeps are run with the same seed (common random numbers)."),
        _reported("2.1", "Base model overview diagram", "structure", "Pathway diagram generated from the strategies."),
        _reported("2.2", "Base model logic", "structure", "Steps of each strategy and the rules under them (README, "
                  "\"How the model works\")."),
        _reported("2.3", "Scenario logic", "scenario", "The scenario's case mix, strategies, horizon, capacity and cost "
                  "setting as loaded."),
        _reported("2.4", "Algorithms", "structure", "Time-to-event draws (Weibull, LogNormal, exponential latent times), "
                  "Bernoulli events, Kaplan–Meier and Aalen–Johansen estimators; see the parameters' distributions."),
        _reported("2.5.1", "Components: entities", "structure", "Patients, with disease, age, refractory status, marrow "
                  "blasts, product source, donor availability and prior transplant from the case mix."),
        _reported("2.5.2", "Components: activities", "structure", "Apheresis, manufacturing, lymphodepletion and infusion "
                  "(or chemotherapy), toxicity, response assessment, transplant, follow-up."),
        _reported("2.5.3", "Components: resources", "scenario", "Apheresis appointments, manufacturing slots, CAR-T beds, "
                  "ICU beds, transplant beds and donor search, with their capacities."),
        _reported("2.5.4", "Components: queues", "results-capacity", queues),
        _reported("2.5.5", "Components: entry/exit points", "structure", "Entry at referral; exits by death (each cause) "
                  "or censoring at the horizon, shown under each step of the diagram."),
        _reported("3.1", "Data sources", "parameters", "Every parameter with its evidence identifier and source text."),
        _reported("3.2", "Pre-processing", "parameters", "Counts turned into Jeffreys Beta distributions; Kaplan–Meier "
                  "figures into event counts (stated per parameter); calibration to the studies' targets."),
        _reported("3.3", "Input parameters", "parameters", "Every value used, its unit, distribution and evidence."),
        _reported("3.4", "Assumptions", "limitations", "Every parameter without direct evidence is labelled an "
                  "assumption, with a reason and a range."),
        _reported("4.1", "Initialisation", "scenario", initialisation),
        _reported("4.2", "Run length", "scenario", run_length),
        _reported("4.3", "Estimation approach", "results", "Each estimator's own 95% interval for one replication; the "
                  "Monte Carlo interval of the mean across replications otherwise."),
        _reported("5.1", "Software or programming language", "reproducibility", f"Python, cd7sim, {engine}."),
        _reported("5.2", "Random sampling", "reproducibility", "NumPy generators seeded from the run's seed, one stream "
                  "per patient and replication, shared across strategies (common random numbers)."),
        _reported("5.3", "Model execution", "reproducibility", "Replications run in parallel processes; results do not "
                  "depend on the number of workers."),
        _reported("5.4", "System specification", "reproducibility", "The machine the run was made on, from run.json."),
        _reported("6.1", "Computer model sharing statement", "reproducibility", "The code, inputs and this report's "
                  "command are given; the licence is MIT. The repository's address is " + AUTHOR.lower() + "."),
    ]


def cheers(facts: RunFacts) -> list[Item]:
    """The 28 items of CHEERS 2022, answered for this run."""
    economic = "results-economic" if facts.has_economics else ""
    no_economics = "This run has no economic evaluation (economics.csv and icers.csv are missing)."

    def economics_item(number: str, topic: str, where: str, answer: str) -> Item:
        return _reported(number, topic, where, answer) if facts.has_economics else Item(number, topic, "author", "", no_economics)

    if facts.has_psa:
        uncertainty = _reported("20", "Characterising uncertainty", "uncertainty", "Probabilistic sensitivity analysis: "
                                "cost-effectiveness plane, acceptability curves, EVPI and EVPPI from the PSA folder.")
        uncertainty_effect = _reported("24", "Effect of uncertainty", "uncertainty", "The probability each strategy is "
                                       "cost-effective and the value of further information.")
    else:
        uncertainty = _reported("20", "Characterising uncertainty", "uncertainty", "Only Monte Carlo and estimator "
                                "intervals: no PSA folder was given to the report (cd7sim report --psa DIR).")
        uncertainty_effect = Item("24", "Effect of uncertainty", "author", "uncertainty", "No PSA folder was given: the "
                                  "effect of parameter uncertainty is not reported. Run a PSA and give its folder with --psa.")
    return [
        Item("1", "Title", "author", "", AUTHOR + ": the report's title names the scenario; a publication's title must "
             "identify the study as an economic evaluation and name the interventions."),
        Item("2", "Abstract", "author", "", AUTHOR + ": the report has no abstract."),
        _reported("3", "Background and objectives", "question", "The decision question and the strategies compared."),
        Item("4", "Health economic analysis plan", "author", "", AUTHOR + ": say whether a plan was written and where "
             "it is; the scenario file and this report's command are the analysis as run."),
        _reported("5", "Study population", "scenario", "The case mix: disease, age, refractory status, marrow blasts, "
                  "product source, donor availability and prior transplant."),
        _reported("6", "Setting and location", "scenario", "The cost setting and the service's capacity."),
        _reported("7", "Comparators", "structure", "Every strategy, its pathway and why it is compared (its source study)."),
        economics_item("8", "Perspective", economic, "From run.json's economics record."),
        economics_item("9", "Time horizon", economic, "From run.json's economics record."),
        economics_item("10", "Discount rate", economic, "Annual rates for costs and outcomes, from run.json."),
        _reported("11", "Selection of outcomes", "results", "QALYs and life-years for the evaluation; response, survival, "
                  "relapse, non-relapse mortality and waiting as clinical and service outcomes."),
        _reported("12", "Measurement of outcomes", "calibration", "Clinical outcomes from the CD7 CAR-T studies through the "
                  "calibrated parameters."),
        economics_item("13", "Valuation of outcomes", "values", "Utilities per health state and decrements per event, "
                       "with their sources."),
        economics_item("14", "Measurement and valuation of resources and costs", "values", "Every cost item of the cost "
                       "setting with its value, distribution and source."),
        economics_item("15", "Currency, price date, and conversion", economic, "Currency, price year and conversion, "
                       "from run.json."),
        _reported("16", "Rationale and description of model", "structure", "A patient-level discrete-event simulation: "
                  "queues, timing and patient history matter, which a cohort Markov model would not carry."),
        _reported("17", "Analytics and assumptions", "limitations", "The main assumptions and the estimators used."),
        _reported("18", "Characterising heterogeneity", "results-clinical", "Results by disease, age band, refractory "
                  "status and marrow blasts (subgroups.csv)."),
        Item("19", "Characterising distributional effects", "not_applicable", "", "Not applicable: the model does not "
             "weight outcomes by who gains them (no equity weights)."),
        uncertainty,
        Item("21", "Approach to engagement with patients and others affected by the study", "author", "",
             AUTHOR + ": the tool cannot know whether patients or the public were engaged."),
        _reported("22", "Study parameters", "parameters", "Every parameter and value input with its distribution and source."),
        economics_item("23", "Summary of main results", economic, "Mean costs, QALYs and life-years per patient with 95% "
                       "intervals, the incremental table and the net monetary benefits."),
        uncertainty_effect,
        Item("25", "Effect of engagement with patients and others affected by the study", "author", "",
             AUTHOR + ": the tool cannot know what engagement changed."),
        _reported("26", "Study findings, limitations, generalisability, and current knowledge", "limitations",
                  "The model's limitations and the calibration's known misfits; the discussion against current knowledge "
                  "is " + AUTHOR.lower() + "."),
        Item("27", "Source of funding", "author", "", AUTHOR + ": funding and the funder's role."),
        Item("28", "Conflicts of interest", "author", "", AUTHOR + ": the authors' conflicts of interest."),
    ]
