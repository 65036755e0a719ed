"""Scripts that measure pgexp next to what a user would otherwise write (``make bench``)."""

import sys
from pathlib import Path

PGEXP = str(Path(sys.executable).with_name("pgexp"))
"""The ``pgexp`` command of the environment running the benchmark."""
