"""Reference outputs of a TF.js graph model, computed by TensorFlow itself (run once, by hand).

Not part of the project's dependencies: run it with a throwaway virtual environment, e.g.

    python3.11 -m venv /tmp/tfref && /tmp/tfref/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfref/bin/python scripts/tfjs_reference.py MODEL.json INPUT.npy OUT.npz
    rm -rf /tmp/tfref

It reads the JSON into a TensorFlow GraphDef, fills each Const from the weight file (its own
float16 decoding, independent of vqa_pipeline.models.tfjs_onnx), runs the graph on INPUT.npy and
saves every output (by name) in OUT.npz. vqa_pipeline_tests/data/nanodet_reference.npz was made
this way; the parity test compares the project's converted ONNX model with it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

_ACT = {b"Relu": "Relu", b"Relu6": "Relu6", b"Elu": "Elu", b"Sigmoid": "Sigmoid", b"LeakyRelu": "LeakyRelu"}


def _split_fused(nodes: list[dict]) -> list[dict]:
    """TF.js's fused convolutions as the plain TensorFlow ops: conv, BiasAdd, activation."""
    import base64

    out = []
    for n in nodes:
        if n["op"] not in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            out.append(n)
            continue
        attr = dict(n.get("attr", {}))
        fused = [base64.b64decode(f) for f in attr.pop("fused_ops", {}).get("list", {}).get("s", [])]
        for k in ("num_args", "epsilon", "leakyrelu_alpha", "TArgs", "num_host_args", "filter_format"):
            attr.pop(k, None)
        if n["op"] == "FusedDepthwiseConv2dNative":
            attr.pop("use_cudnn_on_gpu", None)
        inputs = n["input"]
        conv = {"name": n["name"] + "/conv", "op": "Conv2D" if n["op"] == "_FusedConv2D" else "DepthwiseConv2dNative",
                "input": inputs[:2], "attr": attr}
        last, chain = conv["name"], [conv]
        tattr = {"T": attr["T"]} if "T" in attr else {"T": {"type": "DT_FLOAT"}}
        for k, f in enumerate(fused):
            name = n["name"] if k == len(fused) - 1 else f"{n['name']}/f{k}"
            if f == b"BiasAdd":
                chain.append({"name": name, "op": "BiasAdd", "input": [last, inputs[2]], "attr": tattr})
            elif f == b"Prelu":
                chain.append({"name": name, "op": "Prelu", "input": [last, inputs[3]], "attr": tattr})
            else:
                chain.append({"name": name, "op": _ACT[f], "input": [last], "attr": tattr})
            last = name
        out.extend(chain)
    return out


def main(model_json: str, input_npy: str, out_npz: str) -> None:
    path = Path(model_json)
    doc = json.loads(path.read_text())
    weights: dict[str, np.ndarray] = {}
    for group in doc["weightsManifest"]:
        buf = b"".join((path.parent / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            dt = np.float16 if q and q["dtype"] == "float16" else np.dtype(w["dtype"])
            arr = np.frombuffer(buf, dtype=dt, count=n, offset=off)
            off += n * np.dtype(dt).itemsize
            weights[w["name"]] = arr.astype(np.dtype(w["dtype"])).reshape(shape)
    graph_def = json_format.ParseDict({"node": _split_fused(doc["modelTopology"]["node"])}, tf.compat.v1.GraphDef())
    for node in graph_def.node:
        if node.op == "Const":
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name].astype(dtype)))
    inputs = [n.name for n in graph_def.node if n.op == "Placeholder"]
    consumed = {i.lstrip("^").split(":")[0] for n in graph_def.node for i in n.input}
    outputs = sorted(n.name for n in graph_def.node if n.op == "Identity" and n.name not in consumed)
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            values = sess.run([f"{o}:0" for o in outputs], {f"{inputs[0]}:0": np.load(input_npy)})
    np.savez(out_npz, **dict(zip(outputs, values, strict=True)))
    print("saved", out_npz, {o: v.shape for o, v in zip(outputs, values, strict=True)})


if __name__ == "__main__":
    main(*sys.argv[1:4])
