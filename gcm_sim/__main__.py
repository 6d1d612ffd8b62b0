"""``python -m gcm_sim ...`` is the ``gcm-sim`` command."""

import sys

from gcm_sim.edges.cli import main

sys.exit(main())
