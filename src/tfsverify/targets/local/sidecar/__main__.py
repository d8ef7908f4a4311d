"""``python -m tfsverify.targets.local.sidecar --config PATH``: run one sidecar."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

# grpc logs every failed handshake (each probe with a foreign certificate) at INFO
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from tfsverify.errors import BadInput, TfsverifyError
from tfsverify.targets.local.sidecar.app import run_sidecar
from tfsverify.targets.local.sidecar.config import load_sidecar_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfsverify.targets.local.sidecar",
                                     description="Istio-like sidecar for a local pod.")
    parser.add_argument("--config", required=True, type=Path, help="sidecar config (JSON)")
    args = parser.parse_args(argv)
    try:
        config = load_sidecar_config(args.config)
    except BadInput as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        return exc.exit_code
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s sidecar {config.pod}: %(message)s")
    try:
        asyncio.run(run_sidecar(config))
    except TfsverifyError as exc:
        print(f"sidecar {config.pod}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
