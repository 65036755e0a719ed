"""Test-process settings shared by every test."""

import torch

# pgexp's own default (hardware.threads=1): tests built outside a run see the same arithmetic,
# and the suite does not slow down several-fold when another process shares the cores
torch.set_num_threads(1)
