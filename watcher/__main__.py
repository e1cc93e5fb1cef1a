import sys

if __name__ == "__main__":
    # Only when run: a helper process (the parser, a renderer) imports this module as __mp_main__, and
    # needs none of the command line.
    from .cli import main

    sys.exit(main())
