"""``python -m gradspec``: the same command as the ``gradspec`` console script."""
import sys

from .cli import main

sys.exit(main())
