"""The `EnvCatalogue` of the env packages installed here, for spec validation.

Beyond what the family names tell (`seedrl.spec.env.FamilyCatalogue`), it asks the family
whether it knows the name (`gym:Foo-v9`), and makes a gym env once to learn whether its actions
are discrete. Where a family's package is not installed (a controller image without envs), it
knows what the family names tell, and the actors report unknown names.
"""

from __future__ import annotations

from seedrl.envs.registry import action_kind, check_env_id
from seedrl.spec.env import ENV_CATALOGUE, ActionKind, EnvOptions


class InstalledEnvs:
    """Env ids checked against the installed env families."""

    def check(self, env_id: str) -> None:
        check_env_id(env_id)

    def action_kind(self, env_id: str, options: EnvOptions) -> ActionKind | None:
        return action_kind(env_id, options)


INSTALLED_ENVS = InstalledEnvs()
# Pass as `Model.model_validate(data, context=VALIDATION_CONTEXT)`.
VALIDATION_CONTEXT = {ENV_CATALOGUE: INSTALLED_ENVS}
