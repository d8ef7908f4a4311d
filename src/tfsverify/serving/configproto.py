"""TF Serving's configuration messages, without loading TensorFlow.

``ModelServerConfig`` (``--model_config_file``, ``HandleReloadConfigRequest``) comes from
``tensorflow_serving.config``, which imports no ``tensorflow`` module. ``MonitoringConfig``
(``--monitoring_config_file``) is not shipped in the ``tensorflow-serving-api`` wheel, so it
is built here from its definition in TF Serving's ``config/monitoring_config.proto``::

    message PrometheusConfig { bool enable = 1; string path = 2; }
    message MonitoringConfig { PrometheusConfig prometheus_config = 1; }

in a private descriptor pool, so it can never clash with another copy of the same names.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tensorflow_serving.config import model_server_config_pb2

_FIELD = descriptor_pb2.FieldDescriptorProto


def _monitoring_config_class() -> type:
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/config/monitoring_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
    )
    prometheus = proto.message_type.add(name="PrometheusConfig")
    prometheus.field.add(
        name="enable", number=1, type=_FIELD.TYPE_BOOL, label=_FIELD.LABEL_OPTIONAL
    )
    prometheus.field.add(
        name="path", number=2, type=_FIELD.TYPE_STRING, label=_FIELD.LABEL_OPTIONAL
    )
    monitoring = proto.message_type.add(name="MonitoringConfig")
    monitoring.field.add(
        name="prometheus_config",
        number=1,
        type=_FIELD.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PrometheusConfig",
        label=_FIELD.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
    )


MonitoringConfig = _monitoring_config_class()
ModelServerConfig = model_server_config_pb2.ModelServerConfig
ModelConfig = model_server_config_pb2.ModelConfig

__all__ = ["ModelConfig", "ModelServerConfig", "MonitoringConfig", "model_server_config_pb2"]
