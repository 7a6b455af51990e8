"""`python -m app.serve`: what `make run` runs (app/serve/launcher.py)."""

import sys

from app.serve.launcher import main

sys.exit(main())
