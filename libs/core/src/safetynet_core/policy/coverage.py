"""Policy for the coverage checks of the county plan: which insurance schemes every member of a monitored
household must have for the current year, whether a household with labour must have a member employed,
and whether a member nobody reported on counts as a gap. The rules are in `safetynet_core.coverage`."""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel, ConfigDict

from safetynet_core.contracts import InsuranceScheme

EMPLOYMENT = "employment"
# What a gap can be about: an insurance scheme, or the household's employment.
GAP_KINDS: tuple[str, ...] = (*get_args(InsuranceScheme), EMPLOYMENT)


class CoveragePolicy(BaseModel):
    """The checks; none by default. `unreported_is_gap`: without any report (an insurance scheme for the
    current year, employment for a household with labour) the member or household is a gap too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    insurance_schemes: list[InsuranceScheme] = []
    employment: bool = False
    unreported_is_gap: bool = False

    @property
    def gaps(self) -> tuple[str, ...]:
        """The gaps these checks can find."""
        return (*self.insurance_schemes, *((EMPLOYMENT,) if self.employment else ()))
