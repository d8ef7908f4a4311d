"""``python -m tfsverify.deploycheck``: the validate-deploy command on its own."""

import argparse
import sys

from tfsverify.deploycheck import command


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tfsverify.deploycheck",
                                     description=(command.__doc__ or "").splitlines()[0])
    command.add_arguments(parser)
    sys.exit(command.run(parser.parse_args()))


if __name__ == "__main__":
    main()
