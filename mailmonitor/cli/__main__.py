"""`python -m mailmonitor.cli`, as `python -m mailmonitor`."""

import os
import sys

from mailmonitor.cli import main

os.environ.setdefault("PYTHONIOENCODING", "utf-8")
sys.exit(main())
