"""``python -m engine``: the ``crypto-helper`` command (:mod:`engine.cli`)."""

import sys

from engine.cli import main

sys.exit(main())
