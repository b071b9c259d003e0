"""``python -m rmt_gui`` runs the command line."""

import sys

from rmt_gui.cli import main

sys.exit(main())
