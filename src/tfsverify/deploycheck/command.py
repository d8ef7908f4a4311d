"""``tfsverify validate-deploy``: render every overlay, validate schemas, run the policy.

Exit status: 0 every overlay passes; 1 a schema or policy check failed (each finding is one
line ``check-id: Kind/name: what is wrong — why it matters``); 2 bad input (no such
directory or overlay, an overlay that does not render); 3 kubectl is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from tfsverify.deploycheck import policy
from tfsverify.deploycheck.render import render
from tfsverify.errors import EXIT_BREACH, EXIT_OK, EXIT_TARGET, TfsverifyError

DEFAULT_ROOT = Path("reference-deploy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (their dests start with ``deploy_``: no clash with globals)."""
    parser.add_argument("--root", dest="deploy_root", type=Path, default=DEFAULT_ROOT,
                        help="the reference deployment directory (default: reference-deploy)")
    parser.add_argument("--only", dest="deploy_overlays", action="append", metavar="OVERLAY",
                        help="validate this overlay only (repeatable; default: every overlay)")
    parser.add_argument("--check", dest="deploy_checks", action="append", metavar="ID",
                        choices=policy.CHECK_IDS,
                        help="run this policy check only (repeatable; default: all)")
    parser.add_argument("--no-schemas", dest="deploy_schemas", action="store_false",
                        help="skip schema validation (policy checks only)")
    parser.add_argument("--out", dest="deploy_out", type=Path, metavar="DIR",
                        help="also write each rendered overlay to DIR/<overlay>.yaml")
    parser.add_argument("--list-checks", dest="deploy_list", action="store_true",
                        help="print the policy checks and what each enforces, then exit")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the command; return its exit status (errors are printed, never raised)."""
    out = out or sys.stdout
    if args.deploy_list:
        for check in policy.CHECKS:
            print(f"{check.id:22} {check.enforces}", file=out)
        return EXIT_OK
    try:
        from tfsverify.deploycheck import schemas
    except ImportError as exc:
        print(f"validate-deploy: the schema packages are missing ({exc.name}): "
              "pip install 'tfsverify[dev]'", file=out)
        return EXIT_TARGET
    try:
        overlays = render(args.deploy_root, args.deploy_overlays)
    except TfsverifyError as err:
        print(f"validate-deploy: {err}", file=out)
        return err.exit_code
    if args.deploy_out:
        args.deploy_out.mkdir(parents=True, exist_ok=True)
        for overlay in overlays:
            (args.deploy_out / f"{overlay.name}.yaml").write_text(overlay.to_yaml())
    versions = schemas.kube_versions()
    failed = 0
    for overlay in overlays:
        objects = list(overlay.objects)
        findings = schemas.validate(objects) if args.deploy_schemas else []
        findings += policy.run_policy(objects, args.deploy_checks or policy.CHECK_IDS)
        verdict = "ok" if not findings else f"{len(findings)} finding(s)"
        print(f"overlay {overlay.name}: {len(objects)} objects: {verdict}", file=out)
        for finding in findings:
            print(str(finding), file=out)
        failed += bool(findings)
    sources = ", ".join(f"{name} {version}" for name, version in schemas.schema_sources().items())
    checks = len(args.deploy_checks or policy.CHECK_IDS)
    print(f"validate-deploy: {len(overlays) - failed}/{len(overlays)} overlays pass; "
          f"schemas: Kubernetes {versions[0]} to {versions[-1]} "
          f"{'' if args.deploy_schemas else '(skipped) '}({sources}); {checks} policy checks",
          file=out)
    return EXIT_BREACH if failed else EXIT_OK
