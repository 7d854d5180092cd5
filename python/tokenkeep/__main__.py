"""``python -m tokenkeep``: the same command line as ``tokenkeep``."""

from .cli import main

if __name__ == "__main__":
    main()
