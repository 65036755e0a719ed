"""Test-process settings shared by every test."""

import os

# pgexp's own default (hardware.threads=1) for everything built outside a run, so that the suite
# does not slow down several-fold when another process shares the cores. Set through the
# environment, before any test module imports torch: pytest's main process (and its xdist
# workers' parent) then never imports torch at all.
os.environ["OMP_NUM_THREADS"] = "1"
