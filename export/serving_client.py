"""Client for a TF Serving deployment of an exported pixelrnn_tf model.

REST (standard library only; POST http://HOST:8501/v1/models/NAME[/versions/N]:predict):
  python -m export.serving_client --server=localhost:8501 --model_name=pixel_cnn_digits \
      --signature=sample --num_samples=4 --seed=0 --output=samples.npz
  python -m export.serving_client --signature=log_prob --images=batch.npz --format=row
gRPC (port 8500; TF Serving's own protos from `tensorflow-serving-api==2.21.0`, pinned in
requirements.txt): PredictRequest for every signature, GetModelMetadata for the SignatureDefs.
  python -m export.serving_client --protocol=grpc --server=localhost:8500 ...

Formats (https://www.tensorflow.org/tfx/serving/api_rest): "columnar" sends
{"signature_name": ..., "inputs": {name: value}} and reads {"outputs": ...}; "row" sends
{"instances": [{name: value of one example}, ...]} and reads {"predictions": [...]} (only for
signatures whose inputs all have a batch dimension, i.e. log_prob / serving_default).
"""

import json
import sys
import urllib.error
import urllib.request

import numpy as np

GRPC_INSTALL_HINT = ("gRPC needs the TF Serving API protos: "
                     "pip install tensorflow-serving-api==2.21.0")
INPUT_DTYPES = {"images": np.uint8, "known_mask": np.uint8, "num_samples": np.int32,
                "seed": np.int64}
OUTPUT_DTYPES = {"images": np.uint8, "log_prob": np.float32, "bits_per_dim": np.float32,
                 "pixel_log_prob": np.float32}


class ServingError(RuntimeError):
    """The server answered with an error (e.g. InvalidArgument on bad input)."""

    def __init__(self, status, message):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


def _base_url(server):
    return server.rstrip("/") if "://" in server else f"http://{server.rstrip('/')}"


def predict_url(server, model_name, version=None):
    path = f"/v1/models/{model_name}" + (f"/versions/{int(version)}" if version else "")
    return _base_url(server) + path + ":predict"


def _checked_cast(name, value, dtype):
    """`value` as `dtype`, refusing what the cast would change. numpy, TensorFlow and the
    server all cast silently (256 -> 0 and -1 -> 255 for uint8, 3.7 -> 3), and a signature
    only sees the cast values, so the range must be checked here, before the cast."""
    array = np.asarray(value)
    if array.dtype == dtype:
        return array
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise ValueError(f"{name} must be numbers ({np.dtype(dtype).name}), got "
                         f"{array.dtype.name} values.")
    if array.size:
        if np.issubdtype(array.dtype, np.floating) and not (
                np.isfinite(array).all() and (array == np.round(array)).all()):
            raise ValueError(f"{name} must be whole numbers (it is sent as "
                             f"{np.dtype(dtype).name}); a cast would truncate them.")
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            raise ValueError(f"{name} values must be in [{info.min}, {info.max}] (the "
                             f"signature's {np.dtype(dtype).name}), got min {low} and max "
                             f"{high}; a cast would wrap them around"
                             + (" (256 -> 0, -1 -> 255)." if dtype == np.uint8 else "."))
    return array.astype(dtype)


def _as_inputs(inputs):
    return {k: _checked_cast(k, v, INPUT_DTYPES[k]) if k in INPUT_DTYPES else np.asarray(v)
            for k, v in inputs.items()}


def _as_outputs(outputs):
    return {k: np.asarray(v, OUTPUT_DTYPES.get(k)) for k, v in outputs.items()}


def request_body(signature, inputs, format="columnar"):
    """The JSON body of a predict request."""
    inputs = _as_inputs(inputs)
    if format == "columnar":
        return {"signature_name": signature, "inputs": {k: v.tolist() for k, v in inputs.items()}}
    if format == "row":
        scalars = [k for k, v in inputs.items() if v.ndim == 0]
        sizes = {len(v) for v in inputs.values() if v.ndim}
        if scalars or len(sizes) != 1:
            raise ValueError(f"The row format needs inputs with one common batch dimension; "
                             f"{signature!r} has scalar inputs {scalars}: use format='columnar'.")
        n = sizes.pop()
        return {"signature_name": signature,
                "instances": [{k: v[i].tolist() for k, v in inputs.items()} for i in range(n)]}
    raise ValueError(f"format must be 'columnar' or 'row', got {format!r}.")


def parse_response(body, format="columnar"):
    """Outputs of a predict response as numpy arrays keyed by output name."""
    if format == "columnar":
        outputs = body["outputs"]
        if not isinstance(outputs, dict):  # a signature with a single output
            outputs = {"output": outputs}
        return _as_outputs(outputs)
    predictions = body["predictions"]
    if predictions and isinstance(predictions[0], dict):
        return _as_outputs({k: [p[k] for p in predictions] for k in predictions[0]})
    return _as_outputs({"output": predictions})


def rest_predict(server, model_name, signature, inputs, format="columnar", version=None,
                 timeout=60):
    """POST /v1/models/NAME[/versions/N]:predict; returns the outputs as numpy arrays keyed by
    name. Raises ServingError with the server's message on an error answer."""
    data = json.dumps(request_body(signature, inputs, format)).encode()
    request = urllib.request.Request(predict_url(server, model_name, version), data=data,
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        try:
            text = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            pass
        raise ServingError(e.code, text) from None
    return parse_response(body, format)


def _grpc_modules():
    """grpc, TensorFlow and TF Serving's protos, or ImportError with the pip command."""
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import (get_model_metadata_pb2, predict_pb2,
                                             prediction_service_pb2_grpc)
    except ImportError as e:
        raise ImportError(f"{GRPC_INSTALL_HINT} ({e})") from e
    return grpc, tf, predict_pb2, get_model_metadata_pb2, prediction_service_pb2_grpc


def predict_request(model_name, signature, inputs, version=None):
    """TF Serving's PredictRequest (tensorflow_serving.apis.predict_pb2) for `signature`, its
    inputs as TensorProtos of the signature's dtypes (range-checked before the cast)."""
    _, tf, predict_pb2, _, _ = _grpc_modules()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if version:
        request.model_spec.version.value = int(version)
    for k, v in _as_inputs(inputs).items():
        request.inputs[k].CopyFrom(tf.make_tensor_proto(v))
    return request


def grpc_predict(server, model_name, signature, inputs, version=None, timeout=60):
    """The same as rest_predict through gRPC PredictionService/Predict (tensorflow-serving-api
    is imported only here; ImportError with the pip command if it is missing)."""
    grpc, tf, _, _, service = _grpc_modules()
    request = predict_request(model_name, signature, inputs, version)
    with grpc.insecure_channel(server) as channel:
        try:
            response = service.PredictionServiceStub(channel).Predict(request, timeout)
        except grpc.RpcError as e:
            raise ServingError(e.code(), e.details()) from None
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def grpc_signature_defs(server, model_name, version=None, timeout=60):
    """{signature name: SignatureDef proto} from PredictionService/GetModelMetadata: the
    declared input and output dtypes and shapes, e.g. images (-1, H, W, C) uint8."""
    grpc, _, _, metadata_pb2, service = _grpc_modules()
    request = metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = model_name
    if version:
        request.model_spec.version.value = int(version)
    with grpc.insecure_channel(server) as channel:
        try:
            response = service.PredictionServiceStub(channel).GetModelMetadata(request, timeout)
        except grpc.RpcError as e:
            raise ServingError(e.code(), e.details()) from None
    signature_map = metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    return dict(signature_map.signature_def)


def _load_images(path):
    if path.endswith(".npz"):
        with np.load(path) as data:
            return data["images"] if "images" in data else data[data.files[0]]
    return np.load(path)


def main(argv):
    from absl import flags

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}")
    f = flags.FLAGS
    if f.signature == "sample":
        inputs = {"num_samples": f.num_samples, "seed": f.seed}
    else:
        if not f.images:
            raise SystemExit(f"error: --signature={f.signature} needs --images=FILE.npz (or "
                             ".npy) holding uint8 images (B, H, W, C).")
        images = _load_images(f.images)
        inputs = {"images": images}
        if f.signature == "complete":
            known = np.zeros(images.shape[:3], np.uint8)
            known[:, :f.known_rows] = 1
            inputs.update(known_mask=known, seed=f.seed)
    try:
        if f.protocol == "rest":
            outputs = rest_predict(f.server, f.model_name, f.signature, inputs, f.format,
                                   f.version)
        else:
            outputs = grpc_predict(f.server, f.model_name, f.signature, inputs, f.version)
    except ImportError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2)
    except (ServingError, ValueError, OSError) as e:
        raise SystemExit(f"error: {e}")
    for k, v in outputs.items():
        print(k, v.shape, v.dtype, v.reshape(-1)[:8])
    if f.output:
        np.savez(f.output, **outputs)
        print(f"wrote {f.output}")


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("server", "localhost:8501", "host:port (8501 REST, 8500 gRPC).")
    flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "Transport.")
    flags.DEFINE_enum("format", "columnar", ["columnar", "row"],
                      "REST body: columnar ('inputs') or row ('instances', log_prob only).")
    flags.DEFINE_string("model_name", "pixel_cnn_digits", "Served model name.")
    flags.DEFINE_integer("version", None, "Model version (default: the server's latest).")
    flags.DEFINE_enum("signature", "sample", ["sample", "log_prob", "serving_default",
                                              "complete"], "Signature.")
    flags.DEFINE_integer("num_samples", 4, "sample: number of images.")
    flags.DEFINE_integer("seed", 0, "sample / complete: seed.")
    flags.DEFINE_string("images", None, "log_prob / complete: .npz ('images') or .npy file.")
    flags.DEFINE_integer("known_rows", 4, "complete: rows kept from the top.")
    flags.DEFINE_string("output", None, "Save the outputs to this .npz.")
    app.run(main)
