"""`python -m bench [--repeat N] [--type TYPE] [--pdfs N] [--pdf-only] [--json] [--auto-reload]`:
see bench/render.py and bench/pdf_cpu.py."""

from __future__ import annotations

import argparse
import sys

from bench.render import TYPES, print_table, run
from bench.table import print_json_or


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed repetitions per case; the median is reported (default 5)")
    parser.add_argument("--type", choices=TYPES, help="benchmark one message type only")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--auto-reload", action="store_true",
                        help="TEMPLATE_AUTO_RELOAD=True (development) instead of False (production)")
    parser.add_argument("--pdfs", type=int, default=0,
                        help="lay out N PDFs more and print the RSS growth over them (e.g. 1000)")
    parser.add_argument("--pdf-only", action="store_true",
                        help="only the PDF's CPU table (and --pdfs), not every channel's times")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    results = run(repeat=args.repeat, types=[args.type] if args.type else list(TYPES),
                  auto_reload=args.auto_reload, pdfs=args.pdfs, pdf_only=args.pdf_only)
    print_json_or(results, args.json, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
