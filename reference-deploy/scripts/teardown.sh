#!/usr/bin/env bash
# Remove what scripts/bootstrap.sh made: the kind cluster (and with it Istio, Prometheus
# and the deployment). Idempotent: a cluster that is not there is not an error.
#
#   scripts/teardown.sh [--purge]      --purge also deletes the downloaded istioctl
#
# Settings (environment): CLUSTER_NAME (tfsverify), WORK_DIR (~/.cache/tfsverify-kind).
set -euo pipefail

CLUSTER_NAME="${CLUSTER_NAME:-tfsverify}"
WORK_DIR="${WORK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tfsverify-kind}"

log() { printf '[teardown] %s\n' "$*" >&2; }

if ! command -v kind >/dev/null 2>&1; then
  log "kind is not installed: no cluster to delete"
elif kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "deleting kind cluster $CLUSTER_NAME"
  kind delete cluster --name "$CLUSTER_NAME"
else
  log "no kind cluster $CLUSTER_NAME"
fi

if [[ "${1:-}" == --purge && -d "$WORK_DIR" ]]; then
  log "removing $WORK_DIR"
  rm -rf -- "$WORK_DIR"
fi
