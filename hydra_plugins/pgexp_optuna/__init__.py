"""pgexp's ``hydra/sweeper=optuna``: Hydra's Optuna sweeper with pgexp's defaults (see
:func:`pgexp.hydra_jobs.register_configs`); it registers nothing, so other apps keep the
plugin's own."""
