"""``python -m songscape.cli``: the same as the ``songscape`` command."""

import sys

from songscape.cli import main

sys.exit(main())
