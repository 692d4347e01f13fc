"""``python -m trainguard.cli``: the same command line as the ``trainguard`` script."""

import sys

from trainguard.cli.main import main

sys.exit(main())
