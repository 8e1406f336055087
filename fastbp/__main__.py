"""``python -m fastbp``: the command line."""

import sys

from .cli import run

sys.exit(run())
