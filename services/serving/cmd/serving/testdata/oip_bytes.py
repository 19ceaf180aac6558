"""Sends BYTES tensors (the categories of a categorical feature) with
tritonclient's HTTP client, in the binary tensor extension and in JSON;
prints the predictions as JSON for oip_test.go.

usage: oip_bytes.py host:port model
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient


def main():
    url, model = sys.argv[1:3]
    c = httpclient.InferenceServerClient(url=url)
    out = {"metadata": c.get_model_metadata(model)}
    amount = np.array([5, 5, 2], dtype=np.float64)
    merchant = np.array([b"travel", b"grocery", "zzz-\u00e9".encode()], dtype=np.object_)
    for name, binary in (("binary", True), ("json", False)):
        a = httpclient.InferInput("txn:amount", [3], "FP64")
        a.set_data_from_numpy(amount, binary_data=binary)
        m = httpclient.InferInput("txn:merchant", [3], "BYTES")
        m.set_data_from_numpy(merchant, binary_data=binary)
        res = c.infer(model, [a, m], outputs=[httpclient.InferRequestedOutput("predict", binary_data=False)])
        out[name] = res.as_numpy("predict").tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
