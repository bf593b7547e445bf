"""python -m cysym: the command line.

  python -m cysym operators     every operator cysym has, as the Markdown list in the README
"""
import argparse
import sys
import textwrap

from .registry import all_ops


def operator_list(width=96):
    """Markdown: every user-visible operator, with the other names (aliases) JSON files may use."""
    entries = []
    for op in all_ops():
        if not op.hidden:
            aliases = f" ({', '.join(f'`{a}`' for a in op.aliases)})" if op.aliases else ""
            entries.append(f"`{op.name}`{aliases}")
    return textwrap.fill(", ".join(entries) + ".", width=width, break_long_words=False,
                         break_on_hyphens=False) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cysym", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("operators", help="print every operator (Markdown), as listed in the README")
    args = parser.parse_args(argv)
    if args.command == "operators":
        sys.stdout.write(operator_list())
    return 0


if __name__ == "__main__":
    sys.exit(main())
