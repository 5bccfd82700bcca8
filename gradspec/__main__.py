"""``python -m gradspec``: the same command as the ``gradspec`` console script."""
from .cli import run

run()
