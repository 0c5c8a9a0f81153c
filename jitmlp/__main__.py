"""python -m jitmlp: the command line (jitmlp/_cli.py); with no command, the digits demo."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
