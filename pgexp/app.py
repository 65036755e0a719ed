"""The ``pgexp`` command: Hydra composes the config, :func:`pgexp.run.run` does the work.

This is the only module that knows Hydra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from pgexp.config import SCHEMAS, Config
from pgexp.errors import ConfigError
from pgexp.run import run

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


class UserError(CompactHydraException):
    """Printed by Hydra as its message alone: no traceback for a bad config value."""


def register_configs() -> None:
    """Store the root schema ``pgexp_schema`` and the group schemas.

    Group schemas live under ``hydra/pgexp_schema/<group>/<name>`` so that ``pgexp --help`` lists
    only the options a user picks.
    """
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="pgexp_schema", node=Config)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            cs.store(group=f"hydra/pgexp_schema/{group}", name=name, node=node)


def run_name(cfg: Config, override_dirname: str) -> str:
    """A readable run name: env, estimator, the job's overrides and the seed."""
    parts = [cfg.env.name, cfg.estimator.name, override_dirname, f"seed{cfg.seed}"]
    return "-".join(p for p in parts if p)


def job_context() -> tuple[Path, str | None, list[str], str]:
    """Run directory, default W&B group (the sweep's), task overrides and override dirname."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    group = None
    if hc.mode == RunMode.MULTIRUN:
        sweep = Path(hc.sweep.dir)
        group = f"{sweep.parent.name}_{sweep.name}"
    return run_dir, group, list(hc.overrides.task), hc.job.override_dirname


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(dcfg: DictConfig) -> float | None:
    """Run one job; return J_final so that sweepers can optimize it."""
    run_dir, group, overrides, override_dirname = job_context()
    cfg = cast(Config, OmegaConf.to_object(dcfg))
    resolved = cast(dict[str, Any], OmegaConf.to_container(dcfg, resolve=True, enum_to_str=True))
    try:
        summary = run(
            cfg,
            run_dir,
            name=run_name(cfg, override_dirname),
            group=group,
            overrides=overrides,
            resolved=resolved,
        )
    except ConfigError as err:
        raise UserError(f"pgexp: error: {err}") from None
    return cast(float | None, summary["J_final"])


def main() -> None:
    """Console-script entry point."""
    if not CONF_DIR.is_dir():
        raise SystemExit(
            f"pgexp: error: config directory {CONF_DIR} not found; install pgexp from its "
            "source tree with `pip install -e .`"
        )
    register_configs()
    hydra_main()


if __name__ == "__main__":
    main()
