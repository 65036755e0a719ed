"""``pgexp-study [OVERRIDES ...]``: M draws of each estimator at each N, against the exact
gradient; a table, figures and a W&B record like a run's.

    pgexp-study env=frozenlake4x4 --n 1 10 100 1000 10000 --draws 100 --out outputs/study

OVERRIDES are pgexp's (``env=...``, ``policy=...``, ``seed=...``, ``hardware=...``,
``logger=...``), given before the options; θ is the policy's θ⁰ for that seed, and with
``--checkpoint`` also the θ of each run checkpoint named. Writes ``study.md``, ``study.csv``,
``study.json`` and, per θ, ``error_vs_N``, ``cosine_vs_N`` and ``variance`` figures into
``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from pgexp.checkpoint import load
from pgexp.envs import Env, make_env
from pgexp.errors import ConfigError
from pgexp.estimators import cg_of
from pgexp.hardware import apply_hardware
from pgexp.hydra_jobs import compose_config, typed_config
from pgexp.markdown import table
from pgexp.policies import Policy, TablePolicy, policy_env
from pgexp.run import new_policy
from pgexp.study import plots
from pgexp.study.estimates import VARIANTS, draw_keys, estimates, grid_variants, target
from pgexp.study.stats import describe, n_needed
from pgexp.tracking import make_tracker
from pgexp.validation import check_known_keys

COLUMNS = ("theta", "estimator", "N", "rel_bias", "hotelling_p", "trace_cov", "mse", "rel_rmse",
           "rel_err", "cos_q10", "cos_q50", "cos_q90")  # fmt: skip
"""The table's columns (``study.csv`` and ``study.json`` hold every statistic)."""


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pgexp-study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", help="pgexp overrides (env=..., seed=..., ...)")
    parser.add_argument("--n", type=int, nargs="+", default=[1, 10, 100, 1000, 10000],
                        help="the N of each estimate (default: 1 10 100 1000 10000)")  # fmt: skip
    parser.add_argument("--draws", type=int, default=100, help="M, draws per estimator and N")
    parser.add_argument("--estimators", nargs="+", choices=list(VARIANTS),
                        help="default: all that apply")  # fmt: skip
    parser.add_argument("--checkpoint", type=Path, nargs="+", default=[],
                        help="a run's checkpoint.pt: study its θ too")  # fmt: skip
    parser.add_argument("--reference-n", type=int, default=100_000,
                        help="N of the reference where no exact gradient exists")  # fmt: skip
    parser.add_argument("--out", type=Path, help="default: outputs/study/<date>_<time>")
    args = parser.parse_args(argv)
    if min(args.n) < 1 or args.draws < 2 or args.reference_n < 2:
        parser.error("--n must be >= 1, --draws and --reference-n >= 2")
    return args


@torch.no_grad()
def set_theta(
    policies: list[Policy], checkpoint: Path | None, initial: list[dict[str, Any]]
) -> None:
    """Every run of every policy at ``checkpoint``'s θ, or back at θ⁰ (``initial``)."""
    for policy, start in zip(policies, initial, strict=True):
        if checkpoint is None:
            params = start
        else:
            try:
                params = load(checkpoint).params
            except (OSError, ValueError) as err:
                raise ConfigError("--checkpoint", str(err)) from None
        for name, p in policy.named_parameters():
            value = params.get(name)
            if value is None or value.shape[-p.dim() + 1 :] != p.shape[1:]:
                raise ConfigError("--checkpoint", f"{checkpoint} holds the θ of another policy")
            p.copy_(value.expand_as(p) if value.dim() == p.dim() - 1 else value)


def study(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Path]:
    """Run the study; returns its rows and the output folder."""
    dcfg, _ = compose_config(args.overrides)
    cfg = typed_config(dcfg)
    check_known_keys(dcfg, cfg)
    device, dtype = apply_hardware(cfg.hardware)
    env: Env = policy_env(cfg.policy, make_env(cfg.env)).to(device)
    M = args.draws
    draws = new_policy(cfg, env, [cfg.seed] * M, device, dtype)  # M equal runs
    one = new_policy(cfg, env, [cfg.seed], device, dtype)
    exact_possible = env.finite_mdp is not None and isinstance(one, TablePolicy)
    names = args.estimators or [
        n for n in VARIANTS if exact_possible or not VARIANTS[n].needs_table
    ]
    variants, cg = grid_variants(names), cg_of(cfg.estimator)
    tabular = [v.name for v in variants if v.needs_table]
    if not exact_possible and tabular:
        raise ConfigError(f"--estimators {tabular[0]}", "needs a finite MDP and a table policy")
    out = args.out or Path("outputs/study") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out.mkdir(parents=True, exist_ok=True)
    initial = [{n: p.detach().clone() for n, p in pol.named_parameters()} for pol in (draws, one)]
    resolved = OmegaConf.to_container(dcfg, resolve=True, enum_to_str=True)
    tracker = make_tracker(cfg.logger, out, f"study-{cfg.env.name}-seed{cfg.seed}", None,
                           resolved)  # type: ignore[arg-type]  # fmt: skip
    rows: list[dict[str, Any]] = []
    jobs = [(v, i, n) for v in variants for i, n in enumerate(args.n) if n >= v.min_n]
    labels = ["θ0", *(str(path) for path in args.checkpoint)]
    with tqdm(total=len(labels) * len(jobs), desc="pgexp-study", unit="N") as bar:
        for label, checkpoint in zip(labels, [None, *args.checkpoint], strict=True):
            set_theta([draws, one], checkpoint, initial)
            targets: dict[bool, tuple[torch.Tensor, str]] = {}
            for variant, index, n in jobs:
                if variant.natural not in targets:
                    targets[variant.natural] = target(env, one, variant, args.reference_n,
                                                      cfg.seed, cg)  # fmt: skip
                goal, kind = targets[variant.natural]
                keys = draw_keys(cfg.seed, index, M, device)
                samples = estimates(env, draws, variant, n, keys, cg)
                row = {"theta": label, "estimator": variant.name, "N": n, "M": M, "target": kind,
                       **describe(samples.cpu().numpy(), goal.cpu().numpy())}  # fmt: skip
                rows.append(row)
                tracker.log(row_for_tracking(row), step=len(rows))
                bar.update()
    write(rows, out)
    tracker.summary({f"n_needed/{k}": v for k, v in needed(rows).items()})
    tracker.finish()
    return rows, out


def row_for_tracking(row: dict[str, Any]) -> dict[str, Any]:
    """A row as W&B logs it: numbers under ``<estimator>/N<N>/``."""
    prefix = f"{row['estimator']}/N{row['N']}/"
    return {prefix + k: v for k, v in row.items() if isinstance(v, float)}


def needed(rows: list[dict[str, Any]]) -> dict[str, int | None]:
    """Per θ and estimator: the smallest N of the grid where 90% of draws have cos ≥ 0.9."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(f"{row['theta']} {row['estimator']}", []).append(row)
    return {key: n_needed(rs) for key, rs in groups.items()}


def cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def write(rows: list[dict[str, Any]], out: Path) -> list[str]:
    """``study.csv``, ``study.json``, ``study.md`` and the figures; returns the Markdown lines."""
    with (out / "study.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    need = needed(rows)
    (out / "study.json").write_text(json.dumps({"rows": rows, "n_needed": need}, indent=2) + "\n")
    lines = ["# pgexp study", "", f"M = {rows[0]['M']} draws per estimator and N; target: "
             f"{', '.join(sorted({r['target'] for r in rows}))}.", "",
             table(COLUMNS, [[cell(r[c]) for c in COLUMNS] for r in rows], "llr" + "r" * 9), "",
             "N needed for cos ≥ 0.9 in 90% of draws (smallest N of the grid):", "",
             table(["θ and estimator", "N"], [[k, "beyond the grid" if v is None else v]
                                              for k, v in need.items()], "lr"),
             ""]  # fmt: skip
    for i, label in enumerate(dict.fromkeys(r["theta"] for r in rows)):
        theta_rows = [r for r in rows if r["theta"] == label]
        suffix = "" if i == 0 else f"_{i}"
        for name, draw in (("error_vs_N", plots.error_vs_n), ("cosine_vs_N", plots.cosine_vs_n),
                           ("variance", plots.variance_bars)):  # fmt: skip
            path = draw(
                theta_rows, f"{name.replace('_', ' ')} at {label}", out / f"{name}{suffix}.png"
            )
            lines.append(f"![{name}]({path.name})")
    (out / "study.md").write_text("\n".join(lines) + "\n")
    return lines


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    try:
        out = study(args)[1]
    except ConfigError as err:
        raise SystemExit(f"pgexp-study: error: {err}") from None
    text = (out / "study.md").read_text()
    print("\n".join(line for line in text.splitlines() if not line.startswith("![")).rstrip())
    print(f"\nwrote {out}/study.md, study.csv, study.json and figures", file=sys.stderr)


if __name__ == "__main__":
    main()
