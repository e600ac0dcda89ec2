"""TF Serving's own definitions: the gRPC client's PredictRequests for every signature against
an in-process PredictionService (export/local_prediction_service.py, a stand-in for the model
server) that runs a shipped SavedModel; GetModelMetadata; export/models.config parsed as a
ModelServerConfig; the REST client's JSON in TF Serving's documented row / columnar formats."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from export import local_prediction_service, serving_client
from models.presets import PRETRAINED_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "export", "models.config")
MODEL, VERSION = "mnist_pixel_cnn", 1  # the zoo's fastest to sample


@pytest.fixture(scope="module")
def served():
    server, port = local_prediction_service.serve(
        local_prediction_service.models_from_config(CONFIG, PRETRAINED_DIR))
    loaded = tf.saved_model.load(os.path.join(PRETRAINED_DIR, MODEL, str(VERSION)))
    yield f"localhost:{port}", loaded
    server.stop(None)


def _inputs():
    images = np.random.default_rng(0).integers(0, 2, (3, 28, 28, 1)).astype(np.uint8)
    known = np.zeros((3, 28, 28), np.uint8)
    known[:, :14] = 1
    return {"serving_default": {"images": images}, "log_prob": {"images": images},
            "sample": {"num_samples": 2, "seed": 5},
            "complete": {"images": images, "known_mask": known, "seed": 7}}


def test_models_config_is_a_model_server_config_of_existing_zoo_folders():
    config = local_prediction_service.read_model_config(CONFIG)
    assert isinstance(config, model_server_config_pb2.ModelServerConfig)
    entries = config.model_config_list.config
    assert {c.name for c in entries} == set(os.listdir(PRETRAINED_DIR))
    for c in entries:
        assert c.model_platform == "tensorflow"
        assert c.base_path == f"/models/{c.name}"  # models/pretrained mounted at /models
        folder = os.path.join(PRETRAINED_DIR, c.name)
        assert any(os.path.isfile(os.path.join(folder, v, "saved_model.pb"))
                   for v in os.listdir(folder) if v.isdigit()), c.name


def test_predict_requests_for_every_signature_match_the_saved_model(served):
    server, loaded = served
    assert set(_inputs()) == set(loaded.signatures)
    for signature, inputs in _inputs().items():
        request = serving_client.predict_request(MODEL, signature, inputs, version=VERSION)
        assert isinstance(request, predict_pb2.PredictRequest)
        assert (request.model_spec.name, request.model_spec.signature_name,
                request.model_spec.version.value) == (MODEL, signature, VERSION)
        declared = loaded.signatures[signature].structured_input_signature[1]
        assert set(request.inputs) == set(declared)
        for name, spec in declared.items():  # TensorProtos of the declared dtypes
            assert tf.dtypes.as_dtype(request.inputs[name].dtype) == spec.dtype, name
        got = serving_client.grpc_predict(server, MODEL, signature, inputs, version=VERSION)
        want = loaded.signatures[signature](**{k: tf.constant(v, declared[k].dtype)
                                               for k, v in inputs.items()})
        assert set(got) == set(want), signature
        for key in want:
            np.testing.assert_array_equal(got[key], want[key].numpy(), err_msg=signature)


def test_latest_version_and_errors_over_grpc(served):
    server, _ = served
    latest = serving_client.grpc_predict(server, MODEL, "log_prob", _inputs()["log_prob"])
    highest = max(int(v) for v in os.listdir(os.path.join(PRETRAINED_DIR, MODEL)) if v.isdigit())
    assert highest != VERSION  # else this would not test that serving picks the latest
    newest = tf.saved_model.load(os.path.join(PRETRAINED_DIR, MODEL, str(highest)))
    want = newest.signatures["log_prob"](images=tf.constant(_inputs()["log_prob"]["images"]))
    np.testing.assert_array_equal(latest["log_prob"], want["log_prob"].numpy())
    with pytest.raises(serving_client.ServingError, match="values must be < num_levels=2"):
        serving_client.grpc_predict(server, MODEL, "log_prob",
                                    {"images": np.full((1, 28, 28, 1), 3, np.uint8)})
    with pytest.raises(serving_client.ServingError, match="Servable not found") as e:
        serving_client.grpc_predict(server, "no_such_model", "sample", _inputs()["sample"])
    assert "NOT_FOUND" in str(e.value)
    with pytest.raises(serving_client.ServingError, match="not found in signature def"):
        serving_client.grpc_predict(server, MODEL, "decode", _inputs()["sample"])


def test_get_model_metadata_declares_the_image_shapes(served):
    server, _ = served
    signatures = serving_client.grpc_signature_defs(server, MODEL, version=VERSION)
    assert set(signatures) == {"serving_default", "log_prob", "sample", "complete"}
    images = signatures["complete"].inputs["images"]
    assert tf.dtypes.as_dtype(images.dtype) == tf.uint8
    assert [d.size for d in images.tensor_shape.dim] == [-1, 28, 28, 1]
    assert [d.size for d in signatures["complete"].inputs["known_mask"].tensor_shape.dim] == \
        [-1, 28, 28]
    assert [d.size for d in signatures["log_prob"].outputs["pixel_log_prob"].tensor_shape.dim] \
        == [-1, 28, 28, 1]


# ---- REST: https://www.tensorflow.org/tfx/serving/api_rest ("Request format" / "Response
# format" of the Predict API). ----

def test_rest_columnar_request_is_the_documented_inputs_object():
    body = serving_client.request_body("complete", {
        "images": np.zeros((2, 2, 2, 1), np.uint8), "known_mask": np.ones((2, 2, 2), np.uint8),
        "seed": 3})
    # {"signature_name": <string>, "inputs": <value>|<(nested)list>|<object>}
    assert set(body) == {"signature_name", "inputs"} and body["signature_name"] == "complete"
    assert body["inputs"] == {"images": [[[[0], [0]], [[0], [0]]]] * 2,
                              "known_mask": [[[1, 1], [1, 1]]] * 2, "seed": 3}
    json.dumps(body)  # plain JSON: no numpy scalars left


def test_rest_row_request_is_the_documented_instances_list():
    images = np.arange(8, dtype=np.uint8).reshape(2, 2, 2, 1) % 2
    body = serving_client.request_body("log_prob", {"images": images}, format="row")
    # {"signature_name": <string>, "instances": [{<input name>: <value of one example>}, ...]}
    assert set(body) == {"signature_name", "instances"}
    assert body["instances"] == [{"images": images[0].tolist()}, {"images": images[1].tolist()}]
    with pytest.raises(ValueError, match="use format='columnar'"):  # a scalar has no rows
        serving_client.request_body("sample", {"num_samples": 2, "seed": 0}, format="row")


def test_rest_documented_responses_parse():
    # Row format, several named outputs: one object per instance.
    row = {"predictions": [{"log_prob": -1.5, "bits_per_dim": 0.5, "pixel_log_prob": [[[-1.5]]]},
                           {"log_prob": -2.0, "bits_per_dim": 0.7, "pixel_log_prob": [[[-2.0]]]}]}
    got = serving_client.parse_response(row, format="row")
    np.testing.assert_array_equal(got["log_prob"], np.float32([-1.5, -2.0]))
    assert got["pixel_log_prob"].shape == (2, 1, 1, 1) and got["log_prob"].dtype == np.float32
    # Columnar format, named outputs: {"outputs": {name: value}}.
    columnar = {"outputs": {"images": [[[[1]], [[0]]]]}}
    got = serving_client.parse_response(columnar)
    assert got["images"].dtype == np.uint8 and got["images"].shape == (1, 2, 1, 1)
    # A single output is documented without its name, in both formats.
    assert serving_client.parse_response({"outputs": [1, 2]})["output"].tolist() == [1, 2]
    assert serving_client.parse_response({"predictions": [3, 4]},
                                         format="row")["output"].tolist() == [3, 4]
