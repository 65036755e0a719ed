"""``hydra/sweeper=optuna`` for ``pgexp``: Hydra's Optuna sweeper, with an end that says what
happened when no trial completed (every run diverged) instead of Optuna's traceback.

Hydra instantiates sweepers from the ``hydra_plugins`` package only, so it lives here; it
stores no config, and only ``pgexp``'s own config names it (other apps keep the plugin's)."""

# no `from __future__ import annotations`: see pgexp_batched_launcher/batched_launcher.py

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

from pgexp.hydra_jobs import UserError


class PgexpOptunaSweeper(OptunaSweeper):
    """The plugin's sweeper (its constructor, its search); only the end differs."""

    def sweep(self, arguments: list[str]) -> None:
        try:
            return super().sweep(arguments)
        except ValueError as err:
            if "No trials are completed" not in str(err):
                raise
            raise UserError(
                "pgexp: error: no trial completed (every run diverged, or failed): there is no "
                "best value; try smaller values of the searched keys (train.lr)"
            ) from None
