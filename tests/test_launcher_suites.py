"""pgexp's launchers against Hydra's own conformance suites, as Hydra's plugins test theirs.

Hydra imports every ``hydra_plugins`` module in every Hydra app, so installing pgexp must leave
other apps as they were: importing the plugin sets nothing global (Hydra's version base stays
unset), Hydra's basic and joblib launchers pass their suites in pgexp's environment, and the
batched launchers run any task function but pgexp's job by job, as the basic launcher does, so
they pass the same suites (``batched_slurm`` with submitit's local executor).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from hydra import version
from hydra.core.global_hydra import GlobalHydra
from hydra.test_utils.launcher_common_tests import (
    BatchedSweeperTestSuite,
    IntegrationTestSuite,
    LauncherTestSuite,
)
from hydra.version import VersionBase


@pytest.fixture(autouse=True)
def fresh_hydra() -> Iterator[None]:
    """Hydra's suites start as a new process would: Hydra uninitialized and no version base
    (the other tests of this process initialize Hydra with version base 1.3, through
    ``tests.helpers``, and do so again after these)."""
    base = VersionBase.instance()
    previous = base.version_base
    GlobalHydra.instance().clear()
    base.version_base = version._UNSPECIFIED_
    yield
    GlobalHydra.instance().clear()
    base.version_base = previous


LAUNCHERS = [
    pytest.param("basic", [], id="basic"),
    pytest.param("joblib", [], id="joblib"),
    pytest.param("batched", [], id="batched"),
    pytest.param("batched_slurm", ["hydra.launcher.submitit.cluster=local"], id="batched_slurm"),
]


def test_importing_the_plugin_leaves_hydras_version_base_unset() -> None:
    """What ``@hydra.main(version_base=...)`` at import would change for every other app."""
    code = (
        "from hydra import version\n"
        "import hydra_plugins.pgexp_batched_launcher.batched_launcher\n"
        "import pgexp.app, pgexp.hydra_jobs\n"
        "print(version.getbase() is version._UNSPECIFIED_)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True", out.stderr


@pytest.mark.parametrize(("launcher_name", "overrides"), LAUNCHERS)
class TestLaunchers(LauncherTestSuite):
    pass


@pytest.mark.parametrize(
    ("launcher_name", "overrides"),
    [
        pytest.param(p.values[0], [*p.values[1], "hydra.sweeper.max_batch_size=2"], id=p.id)
        for p in LAUNCHERS
    ],
)
class TestLaunchersWithABatchedSweeper(BatchedSweeperTestSuite):
    pass


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task_launcher_cfg", "extra_flags"),
    [
        pytest.param({}, ["-m", f"hydra/launcher={name}", *overrides], id=name)
        for name, overrides in [
            ("basic", []),
            ("joblib", []),
            ("batched", []),
            ("batched_slurm", ["hydra.launcher.submitit.cluster=local"]),
        ]
    ],
)
class TestLaunchersInRealApps(IntegrationTestSuite):
    pass
