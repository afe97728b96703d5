"""The `tinygraph` command: `tinygraph demo`, `tinygraph --version`; also `python -m tinygraph`."""

from __future__ import annotations

import argparse
import sys

import tinygraph as tg


def whole_number(minimum: int):
    """An argparse type: a whole number of at least ``minimum``; anything else is a usage error (exit code 2).

    >>> whole_number(1)("200")
    200
    >>> whole_number(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number of at least 1, got '0'
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {minimum}, got {text!r}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygraph", description="A small autodiff engine on numpy.")
    parser.add_argument("--version", action="version", version=f"tinygraph {tg.__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help="run the main demonstration",
        description="The course's planar-data exercise end to end: train, check the gradients, draw the graphs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    demo.add_argument("--out", metavar="DIR", default="tinygraph-demo", help="folder for the pictures it writes")
    demo.add_argument(
        "--steps", type=whole_number(1), default=10000, help="training steps of the hidden-layer network (at least 1)"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    from tinygraph import opcheck

    opcheck.add_arguments(
        sub.add_parser(
            "gradcheck",
            help="check the gradients of every built-in op",
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from tinygraph.demo import OutFolderError, run

        try:
            return run(args)
        except OutFolderError as e:  # a usage error (exit code 2), not a traceback
            demo.error(str(e))
    if args.command == "gradcheck":
        return opcheck.run(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
