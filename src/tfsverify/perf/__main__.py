"""``python -m tfsverify.perf``: the perf command on its own (as ``tfsverify perf``)."""

import argparse
import sys

from tfsverify.perf import command


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tfsverify.perf",
                                     description=(command.__doc__ or "").splitlines()[0])
    command.add_arguments(parser)
    sys.exit(command.run(parser.parse_args()))


if __name__ == "__main__":
    main()
