import sys

from mailmonitor.cli import main

sys.exit(main())
