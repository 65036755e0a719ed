"""Regenerate the README's estimator study: ``pgexp-study`` on FrozenLake 4x4 at θ⁰ = 0 for
N = 1 … 10⁴ and every estimator (100 draws each), its figures copied into ``docs/figures/`` and
its table written into the README between the ``study`` markers.

Usage (from the repository root, after ``make install``; about a minute on one core)::

    .venv/bin/python scripts/study.py [--out outputs/study_readme]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from pgexp.markdown import table

ROOT = Path(__file__).resolve().parent.parent
STUDY = str(Path(sys.executable).with_name("pgexp-study"))
COMMAND = ["env=frozenlake4x4", "logger=none", "--n", "1", "10", "100", "1000", "10000",
           "--draws", "100"]  # fmt: skip
FIGURES = {"error_vs_N.png": "study_error_vs_N.png", "cosine_vs_N.png": "study_cosine_vs_N.png",
           "variance.png": "study_variance.png"}  # fmt: skip
BEGIN, END = "<!-- study:begin -->", "<!-- study:end -->"


def readme_block(data: dict[str, object]) -> str:
    """The README's table: per estimator and N, the error, the bias test and the cosines."""
    rows = data["rows"]
    assert isinstance(rows, list)
    head = ["estimator", "N", "rel. RMSE", "rel. bias", "Hotelling p", "cos 10% / 50% / 90%"]
    cells = [[r["estimator"], r["N"], f"{r['rel_rmse']:.3g}", f"{r['rel_bias']:.3g}",
              "–" if r["hotelling_p"] is None else f"{r['hotelling_p']:.2f}",
              f"{r['cos_q10']:.2f} / {r['cos_q50']:.2f} / {r['cos_q90']:.2f}"]
             for r in rows]  # fmt: skip
    command = "pgexp-study " + " ".join(COMMAND)
    return f"{BEGIN}\n`{command}` (`make study`):\n\n{table(head, cells, 'lrrrrr')}\n{END}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "study_readme")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    subprocess.run([STUDY, *COMMAND, "--out", str(args.out)], cwd=ROOT, check=True)
    for source, target in FIGURES.items():
        shutil.copyfile(args.out / source, ROOT / "docs" / "figures" / target)
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    block = readme_block(json.loads((args.out / "study.json").read_text()))
    readme.write_text(text[:start] + block + text[stop:])
    print(f"README.md and docs/figures/study_*.png updated from {args.out}")


if __name__ == "__main__":
    main()
