"""Lessons of the teaching app: a question, what to change, what to look for, the evidence, and the settings.

Each lesson is a YAML file in ``scenarios/lessons/`` (a teacher adds one without code)::

    title: Why consolidate a CAR-T remission?
    question: ...                       # what the class is asked
    change: ...                         # which control to move
    look_for: ...                       # what the figure or table shows
    evidence: [XIAO-HSCT, CAO-OS2Y]     # EVIDENCE.md identifiers behind the lesson
    view: survival                      # the view the lesson opens on (VIEWS)
    scenario: base                      # the built-in scenario it starts from
    settings:                           # top-level scenario fields changed, checked as a scenario file is
      patients: 2000
      strategies: [cart_alone, cart_bridge_allo]

The files are read in name order (``01_...``, ``02_...``), so the order of the menu is the teacher's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from sim.inputs.errors import InputError
from sim.inputs.paths import LESSONS_DIR
from sim.inputs.scenario import Scenario, load_scenario
from sim.inputs.strategies import resolve_strategy
from sim.inputs.validation import StrictModel, first_error, read_yaml_mapping

View = Literal["survival", "flow", "patients", "capacity", "costs", "uncertainty"]
VIEWS: tuple[str, ...] = ("survival", "flow", "patients", "capacity", "costs", "uncertainty")
"""The app's views, in menu order: survival curves, the pathway flow, the same patients under each strategy
(swimmer plot), capacity (waits, utilisation), costs and QALYs, the posterior uncertainty band."""


class Lesson(StrictModel):
    """One guided preset of the teaching app (see the module docstring).

    Attributes
    ----------
    title : str
        The lesson's name in the menu.
    question, change, look_for : str
        The question put to the class, the control to move, and what to look for.
    evidence : list of str
        EVIDENCE.md identifiers the lesson rests on.
    view : str
        The view it opens on, one of :data:`VIEWS`.
    scenario : str
        A built-in scenario (``base``, ``regional_centre`` ...) the settings change.
    settings : dict
        Top-level scenario fields (``patients``, ``seed``, ``strategies``, ``parameters``, ``capacity``,
        ``arrivals``, ``replications`` ...); strategies as in a scenario file (a built-in name, or a mapping
        with ``base``).
    """

    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    change: str = Field(min_length=1)
    look_for: str = Field(min_length=1)
    evidence: list[str] = Field(min_length=1)
    view: View
    scenario: str = "base"
    settings: dict[str, Any] = Field(default_factory=dict)

    def scenario_for(self) -> Scenario:
        """The lesson's scenario: its built-in scenario with its settings, checked as a scenario file is.

        Raises
        ------
        InputError
            Naming ``settings.<field>`` for a setting the scenario schema refuses.
        """
        base = load_scenario(self.scenario)
        changes = dict(self.settings)
        if isinstance(changes.get("strategies"), list):
            changes["strategies"] = [resolve_strategy(entry, f"settings.strategies[{index}]")
                                     for index, entry in enumerate(changes["strategies"])]
        try:
            return Scenario.model_validate({**base.model_dump(), **changes})
        except ValidationError as error:
            field, value, allowed = first_error(error, Scenario)
            raise InputError(f"settings.{field}", value, allowed) from None


def load_lesson(path: str | Path) -> Lesson:
    """Read and check one lesson file (its scenario and settings included).

    Raises
    ------
    InputError
        Naming the file's field, the value and what is allowed.
    """
    raw = read_yaml_mapping(path, "lesson")
    try:
        lesson = Lesson.model_validate(raw)
    except ValidationError as error:
        field, value, allowed = first_error(error, Lesson)
        raise InputError(f"{Path(path).name}:{field}", value, allowed) from None
    lesson.scenario_for()
    return lesson


def load_lessons(folder: str | Path = LESSONS_DIR) -> dict[str, Lesson]:
    """Every lesson of ``folder`` (default: the shipped ``scenarios/lessons/``), by file name without ``.yaml``,
    in name order."""
    return {path.stem: load_lesson(path) for path in sorted(Path(folder).glob("*.yaml"))}
