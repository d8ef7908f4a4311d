"""The Kubernetes target: the Target protocol on a real cluster, behind safety rails."""

from tfsverify.targets.kubernetes.config import KubeSettings, settings_from_environment
from tfsverify.targets.kubernetes.target import KubernetesTarget

__all__ = ["KubeSettings", "KubernetesTarget", "settings_from_environment"]
