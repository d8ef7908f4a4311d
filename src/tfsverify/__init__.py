"""tfsverify: chaos and performance verification for TensorFlow Serving behind Istio mTLS."""

__version__ = "0.1.0"
