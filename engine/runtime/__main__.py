"""``python -m engine.runtime``: the runc-compatible command line (see engine.runtime.cli)."""
from __future__ import annotations

import sys

from engine.runtime.cli import main

sys.exit(main())
