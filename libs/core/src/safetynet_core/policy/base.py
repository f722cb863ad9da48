"""What every section of the policy is: a frozen model that refuses unknown keys (a typo in a county's
policy file is an error, not a silent default)."""

from pydantic import BaseModel, ConfigDict


class PolicySection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
