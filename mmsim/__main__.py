"""``python -m mmsim``: the same as the ``mmsim`` command (see :mod:`mmsim.cli`)."""

from mmsim.cli import main

raise SystemExit(main())
