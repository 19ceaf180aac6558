"""Drives serving's Open Inference Protocol API with tritonclient's HTTP
client (the real OIP client of Triton and KServe); prints a JSON report
that oip_test.go checks.

usage: oip_client.py host:port model version
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main():
    url, model, version = sys.argv[1:4]
    c = httpclient.InferenceServerClient(url=url)
    out = {
        "live": c.is_server_live(),
        "ready": c.is_server_ready(),
        "model_ready": c.is_model_ready(model),
        "version_ready": c.is_model_ready(model, model_version=version),
        "server": c.get_server_metadata(),
        "metadata": c.get_model_metadata(model),
    }
    # The binary tensor extension (tritonclient's default), FP32, batch 2.
    x = np.array([[1, 2], [3, 4]], dtype=np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    res = c.infer(model, [inp])
    out["binary"] = res.as_numpy("predict").tolist()
    out["binary_version"] = res.get_response()["model_version"]
    # JSON data, INT64, one input per feature, a version asked for.
    a = httpclient.InferInput("a", [1], "INT64")
    a.set_data_from_numpy(np.array([5], dtype=np.int64), binary_data=False)
    b = httpclient.InferInput("b", [1], "INT64")
    b.set_data_from_numpy(np.array([6], dtype=np.int64), binary_data=False)
    res = c.infer(model, [a, b], model_version=version,
                  outputs=[httpclient.InferRequestedOutput("predict", binary_data=False)])
    out["json"] = res.as_numpy("predict").tolist()
    # Errors: the client reads the protocol's {"error": ...}.
    errors = {}
    for name, call in {
        "unknown_model": lambda: c.infer("nosuch-model", [inp]),
        "bad_shape": lambda: c.infer(model, [bad_shape()]),
        "bytes": lambda: c.infer(model, [bytes_input()]),
    }.items():
        try:
            call()
            errors[name] = None
        except InferenceServerException as e:
            errors[name] = {"status": str(e.status()), "message": e.message()}
    out["errors"] = errors
    print(json.dumps(out))


def bad_shape():
    x = np.zeros((2, 3), dtype=np.float64)
    i = httpclient.InferInput("input", list(x.shape), "FP64")
    i.set_data_from_numpy(x, binary_data=False)
    return i


def bytes_input():
    x = np.array([[b"a", b"b"]], dtype=np.object_)
    i = httpclient.InferInput("input", [1, 2], "BYTES")
    i.set_data_from_numpy(x, binary_data=False)
    return i


if __name__ == "__main__":
    main()
