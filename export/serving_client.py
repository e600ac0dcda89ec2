"""Client for a TF Serving deployment of an exported pixelrnn_tf model.

REST (standard library only):
  python -m export.serving_client --server=localhost:8501 --model_name=pixel_cnn_digits \
      --signature=sample --num_samples=4 --seed=0
gRPC (needs `pip install tensorflow-serving-api==2.21.0`):
  python -m export.serving_client --server=localhost:8500 --protocol=grpc ...
"""

import json
import urllib.request

import numpy as np


def rest_predict(server, model_name, signature, inputs, timeout=60):
    """POST /v1/models/NAME:predict in the columnar ("inputs") format; returns the outputs
    as numpy arrays keyed by name."""
    body = {"signature_name": signature,
            "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
    request = urllib.request.Request(
        f"http://{server}/v1/models/{model_name}:predict", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        outputs = json.loads(response.read())["outputs"]
    if not isinstance(outputs, dict):  # a signature with a single output
        outputs = {"output": outputs}
    return {k: np.asarray(v) for k, v in outputs.items()}


def grpc_predict(server, model_name, signature, inputs, timeout=60):
    """The same through gRPC PredictionService/Predict."""
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    except ImportError as e:
        raise SystemExit(f"gRPC needs tensorflow-serving-api ({e}): "
                         "pip install tensorflow-serving-api==2.21.0")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    dtypes = {"images": tf.uint8, "known_mask": tf.uint8, "num_samples": tf.int32,
              "seed": tf.int64}
    for k, v in inputs.items():
        request.inputs[k].CopyFrom(tf.make_tensor_proto(v, dtype=dtypes.get(k)))
    response = stub.Predict(request, timeout)
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def main(argv):
    from absl import flags

    del argv
    f = flags.FLAGS
    if f.signature == "sample":
        inputs = {"num_samples": np.int32(f.num_samples), "seed": np.int64(f.seed)}
    else:
        images = np.load(f.images)["images"]
        inputs = {"images": images}
        if f.signature == "complete":
            known = np.zeros(images.shape[:3], np.uint8)
            known[:, :f.known_rows] = 1
            inputs.update(known_mask=known, seed=np.int64(f.seed))
    predict = rest_predict if f.protocol == "rest" else grpc_predict
    outputs = predict(f.server, f.model_name, f.signature, inputs)
    for k, v in outputs.items():
        print(k, v.shape, v.dtype, v.reshape(-1)[:8])


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("server", "localhost:8501", "host:port (8501 REST, 8500 gRPC).")
    flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "Transport.")
    flags.DEFINE_string("model_name", "pixel_cnn_digits", "Served model name.")
    flags.DEFINE_enum("signature", "sample", ["sample", "log_prob", "complete"], "Signature.")
    flags.DEFINE_integer("num_samples", 4, "sample: number of images.")
    flags.DEFINE_integer("seed", 0, "sample / complete: seed.")
    flags.DEFINE_string("images", None, "log_prob / complete: an .npz with an 'images' array.")
    flags.DEFINE_integer("known_rows", 4, "complete: rows kept from the top.")
    app.run(main)
