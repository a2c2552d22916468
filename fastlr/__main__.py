"""``python -m fastlr``: the same as the ``fastlr`` command."""

import sys

from fastlr.cli import main

if __name__ == "__main__":
    sys.exit(main())
