#!/usr/bin/env bash
# Bring up the reference deployment on a kind cluster: kind (kind/cluster.yaml) + fake GPU
# capacity + Istio (minimal profile) + Prometheus (kube-prometheus-stack) + the overlay.
#
#   scripts/bootstrap.sh [STEP...]     STEP: all (default) cluster fake-gpu istio monitoring
#                                      keda tracing images deploy
#
# Every step is idempotent: run it again and it converges (an existing cluster is kept,
# installs are upgrades, patches and applies replace). Tear down with scripts/teardown.sh.
#
# Settings (environment):
#   CLUSTER_NAME       kind cluster name                        (tfsverify; context kind-NAME)
#   OVERLAY            overlay under overlays/ to deploy        (kind; or kind-fake-gpu)
#   KIND_NODE_IMAGE    kindest/node image to pin Kubernetes     (kind's default)
#   ISTIO_VERSION      istioctl release                         (1.30.3)
#   PROM_STACK_VERSION kube-prometheus-stack chart              (81.6.2)
#   KEDA_VERSION       KEDA chart (step keda; the gpu overlay)  (2.16.1)
#   FAKE_GPUS_PER_NODE nvidia.com/gpu advertised per GPU worker (4)
#   WITH_GRAFANA       1: install Grafana with the dashboard    (0)
#   WITH_TRACING       1: Jaeger + the mesh's otel-tracing      (0)
#   WORK_DIR           downloads (istioctl)                     (~/.cache/tfsverify-kind)
#   TFSVERIFY_KUBE_LOAD_IMAGE
#                      the in-mesh load Job's image (tfsverify) (ghcr.io/tfsverify/tfsverify-load:dev)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPLOY="$(dirname "$HERE")"
CLUSTER_NAME="${CLUSTER_NAME:-tfsverify}"
CONTEXT="kind-${CLUSTER_NAME}"
OVERLAY="${OVERLAY:-kind}"
ISTIO_VERSION="${ISTIO_VERSION:-1.30.3}"
PROM_STACK_VERSION="${PROM_STACK_VERSION:-81.6.2}"
KEDA_VERSION="${KEDA_VERSION:-2.16.1}"
FAKE_GPUS_PER_NODE="${FAKE_GPUS_PER_NODE:-4}"
WITH_GRAFANA="${WITH_GRAFANA:-0}"
WITH_TRACING="${WITH_TRACING:-0}"
WORK_DIR="${WORK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tfsverify-kind}"
# must match base/deployment.yaml (initContainers[0].image) and the TF Serving image
MODEL_IMAGE="ghcr.io/tfsverify/anomaly-detection-model:2"
SERVING_IMAGE="tensorflow/serving:2.19.1"
# the experiments' load runs as a Job inside the mesh from this image; the kubernetes target
# reads the same variable (src/tfsverify/targets/kubernetes/config.py)
LOAD_IMAGE="${TFSVERIFY_KUBE_LOAD_IMAGE:-ghcr.io/tfsverify/tfsverify-load:dev}"
REPO="$(dirname "$DEPLOY")"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }
kc() { kubectl --context "$CONTEXT" "$@"; }

step_cluster() {
  need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  need kubectl "https://kubernetes.io/docs/tasks/tools/"
  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    log "kind cluster $CLUSTER_NAME exists"
  else
    log "creating kind cluster $CLUSTER_NAME"
    local args=(create cluster --name "$CLUSTER_NAME" --config "$DEPLOY/kind/cluster.yaml"
      --wait 180s)
    if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then args+=(--image "$KIND_NODE_IMAGE"); fi
    kind "${args[@]}"
  fi
  kc wait --for=condition=Ready nodes --all --timeout=180s
}

step_fake_gpu() {
  # Extended resources advertised by patching node status (Kubernetes "Advertise Extended
  # Resources for a Node"). kubelet keeps them until the node object is re-created.
  local nodes node
  nodes="$(kc get nodes -l nvidia.com/gpu.present=true -o name)"
  [[ -n "$nodes" ]] || die "no node labelled nvidia.com/gpu.present=true (kind/cluster.yaml)"
  for node in $nodes; do
    kc patch "$node" --subresource=status --type=json -p \
      "[{\"op\":\"add\",\"path\":\"/status/capacity/nvidia.com~1gpu\",\"value\":\"${FAKE_GPUS_PER_NODE}\"}]"
  done
  local try
  for node in $nodes; do
    for try in $(seq 1 30); do
      if [[ "$(kc get "$node" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}')" == \
            "$FAKE_GPUS_PER_NODE" ]]; then
        log "$node advertises $FAKE_GPUS_PER_NODE nvidia.com/gpu"
        continue 2
      fi
      log "waiting for $node to report the fake GPUs as allocatable ($try/30)"
      sleep 2
    done
    die "$node: nvidia.com/gpu not allocatable after 60 s"
  done
}

istioctl_bin() {
  local dir="$WORK_DIR/istio-$ISTIO_VERSION"
  if [[ ! -x "$dir/bin/istioctl" ]]; then
    need curl "to download istioctl"
    mkdir -p "$WORK_DIR"
    log "downloading istioctl $ISTIO_VERSION"
    (cd "$WORK_DIR" && curl -fsSL https://istio.io/downloadIstio | ISTIO_VERSION="$ISTIO_VERSION" sh -) >&2
  fi
  printf '%s\n' "$dir/bin/istioctl"
}

step_istio() {
  local istioctl
  istioctl="$(istioctl_bin)"
  local args=(install -y --context "$CONTEXT" --set profile=minimal
    # metrics merging (the default, stated): Prometheus scrapes :15020 in plaintext
    --set meshConfig.enablePrometheusMerge=true
    --set values.pilot.resources.requests.cpu=100m
    --set values.pilot.resources.requests.memory=256Mi)
  if [[ "$WITH_TRACING" == 1 ]]; then
    args+=(--set meshConfig.enableTracing=true
      --set "meshConfig.extensionProviders[0].name=otel-tracing"
      --set "meshConfig.extensionProviders[0].opentelemetry.service=jaeger-collector.istio-system.svc.cluster.local"
      --set "meshConfig.extensionProviders[0].opentelemetry.port=4317")
  fi
  log "installing Istio $ISTIO_VERSION (minimal profile)"
  "$istioctl" "${args[@]}"
  kc -n istio-system rollout status deployment/istiod --timeout=300s
}

step_monitoring() {
  need helm "https://helm.sh/docs/intro/install/"
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts \
    --force-update >/dev/null
  log "installing kube-prometheus-stack $PROM_STACK_VERSION into monitoring"
  helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    --kube-context "$CONTEXT" --namespace monitoring --create-namespace \
    --version "$PROM_STACK_VERSION" --wait --timeout 10m \
    --set alertmanager.enabled=false \
    --set nodeExporter.enabled=false \
    --set "grafana.enabled=$([[ "$WITH_GRAFANA" == 1 ]] && echo true || echo false)" \
    --set grafana.sidecar.dashboards.enabled=true \
    --set grafana.sidecar.dashboards.searchNamespace=ALL \
    --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
    --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false
}

step_keda() {
  need helm "https://helm.sh/docs/intro/install/"
  helm repo add kedacore https://kedacore.github.io/charts --force-update >/dev/null
  log "installing KEDA $KEDA_VERSION into keda"
  helm upgrade --install keda kedacore/keda --kube-context "$CONTEXT" \
    --namespace keda --create-namespace --version "$KEDA_VERSION" --wait --timeout 5m
}

step_tracing() {
  [[ "$WITH_TRACING" == 1 ]] || { log "tracing: skipped (WITH_TRACING=1 to install)"; return 0; }
  local istioctl
  istioctl="$(istioctl_bin)"
  log "installing Jaeger (OTLP on jaeger-collector.istio-system:4317)"
  kc apply -f "$(dirname "$(dirname "$istioctl")")/samples/addons/jaeger.yaml"
  kc -n istio-system rollout status deployment/jaeger --timeout=300s
}

step_images() {
  need docker "to build the images and load them into kind"
  log "building $MODEL_IMAGE from reference-deploy/model"
  docker build -q -f "$DEPLOY/images/model/Dockerfile" -t "$MODEL_IMAGE" "$DEPLOY" >/dev/null
  log "building $LOAD_IMAGE (tfsverify, for the in-mesh load Job) from the repository"
  DOCKER_BUILDKIT=1 docker build -q -f "$DEPLOY/images/load/Dockerfile" -t "$LOAD_IMAGE" \
    "$REPO" >/dev/null
  if ! docker image inspect "$SERVING_IMAGE" >/dev/null 2>&1; then
    docker pull -q "$SERVING_IMAGE" >/dev/null
  fi
  kind load docker-image --name "$CLUSTER_NAME" "$MODEL_IMAGE" "$SERVING_IMAGE" "$LOAD_IMAGE"
}

step_deploy() {
  [[ -f "$DEPLOY/overlays/$OVERLAY/kustomization.yaml" ]] || die "no overlay $OVERLAY"
  log "deploying overlays/$OVERLAY"
  kc apply -k "$DEPLOY/overlays/$OVERLAY"
  local deployment
  for deployment in $(kc -n tfserving get deployments -l app=anomaly-detection -o name); do
    kc -n tfserving rollout status "$deployment" --timeout=600s
  done
  kc -n tfserving get pods -o wide
}

main() {
  local steps=("$@")
  if [[ ${#steps[@]} -eq 0 || "${steps[0]}" == all ]]; then
    steps=(cluster fake-gpu istio monitoring tracing images deploy)
  fi
  local step
  for step in "${steps[@]}"; do
    case "$step" in
      cluster) step_cluster ;;
      fake-gpu) step_fake_gpu ;;
      istio) step_istio ;;
      monitoring) step_monitoring ;;
      keda) step_keda ;;
      tracing) step_tracing ;;
      images) step_images ;;
      deploy) step_deploy ;;
      *) die "unknown step $step (all cluster fake-gpu istio monitoring keda tracing images deploy)" ;;
    esac
  done
}

main "$@"
