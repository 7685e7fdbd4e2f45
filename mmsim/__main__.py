"""``python -m mmsim``: the same command as the ``mmsim`` script."""

import sys

from mmsim.cli import main

sys.exit(main())
