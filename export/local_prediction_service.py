"""An in-process stand-in for TF Serving's gRPC PredictionService (Predict, GetModelMetadata).

TF Serving's model server cannot be installed on the development machines (no Docker engine,
no tensorflow_model_server binary), so the gRPC client is tested against this: TF Serving's
own protos and service definition (`tensorflow-serving-api`), served by `grpc.server`, running
each SavedModel with `tf.saved_model.load`. It is NOT the model server (no batching, no
version policy, no model reloading); it answers as the model server's documented contract
does, so that a client that works against it speaks the real protocol.

  from export import local_prediction_service as lps
  server, port = lps.serve(lps.models_from_config("export/models.config", "models/pretrained"))
  ... serving_client.grpc_predict(f"localhost:{port}", "mnist_pixel_cnn", "sample", {...})
  server.stop(None)
"""

import os
import threading
from concurrent import futures

import grpc
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, predict_pb2,
                                     prediction_service_pb2_grpc)
from tensorflow_serving.config import model_server_config_pb2

from export.export_saved_model import existing_versions


def read_model_config(path):
    """export/models.config (or any `--model_config_file`) as TF Serving's ModelServerConfig."""
    with open(path) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


def models_from_config(path, models_root):
    """{name: base folder} of a model config file, each `base_path` read relative to
    `models_root` (the folder mounted at /models in the container)."""
    config = read_model_config(path)
    return {c.name: os.path.join(models_root, os.path.basename(c.base_path.rstrip("/")))
            for c in config.model_config_list.config}


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata over `{model name: folder of numbered versions}`; the
    latest version unless the request's model_spec names one. Versions load on first use."""

    def __init__(self, model_bases):
        self._bases = dict(model_bases)
        self._loaded = {}
        self._lock = threading.Lock()

    def _version_dir(self, spec, context):
        if spec.name not in self._bases:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: Latest({spec.name})")
        versions = existing_versions(self._bases[spec.name])
        version = spec.version.value if spec.HasField("version") else max(versions, default=0)
        if version not in versions:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: Specific({spec.name}, {version})")
        return version, os.path.join(self._bases[spec.name], str(version))

    def _load(self, path):
        with self._lock:
            if path not in self._loaded:
                self._loaded[path] = tf.saved_model.load(path)
            return self._loaded[path]

    def Predict(self, request, context):
        version, path = self._version_dir(request.model_spec, context)
        name = request.model_spec.signature_name or "serving_default"
        signatures = self._load(path).signatures
        if name not in signatures:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"Serving signature name: \"{name}\" not found in signature def")
        fn = signatures[name]
        expected = set(fn.structured_input_signature[1])
        if set(request.inputs) != expected:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"signature {name} takes inputs {sorted(expected)}, got "
                          f"{sorted(request.inputs)}")
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        try:
            outputs = fn(**inputs)
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, getattr(e, "message", str(e)))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            if not request.output_filter or key in request.output_filter:
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response

    def GetModelMetadata(self, request, context):
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "Metadata field signature_def must be requested (and only it)")
        version, path = self._version_dir(request.model_spec, context)
        saved = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as f:
            saved.ParseFromString(f.read())
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, sig in saved.meta_graphs[0].signature_def.items():
            if not key.startswith("__"):  # the init op, not a signature a client calls
                signature_map.signature_def[key].CopyFrom(sig)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(signature_map)
        return response


def serve(model_bases, port=0):
    """Start the stand-in on localhost (port 0: an ephemeral one); returns (server, port)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(model_bases), server)
    port = server.add_insecure_port(f"localhost:{port}")
    server.start()
    return server, port
