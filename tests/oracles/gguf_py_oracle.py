#!/usr/bin/env python3
"""Independent GGUF oracle for shrink's io tests, built on gguf-py (pip install gguf numpy).

  gguf_py_oracle.py write OUT.gguf OUT.json
      Writes a GGUF with gguf-py's GGUFWriter holding every metadata value type (including nested
      arrays) and a few tensors, and a JSON description of exactly what was written. The committed
      fixtures under tests/oracles/fixtures/ come from this command.
  gguf_py_oracle.py check FILE.gguf EXPECTED.json
      Reads FILE with gguf-py's GGUFReader and compares every key (name, type, value, order) and every
      tensor (name, shape, type id, bytes) with EXPECTED. Prints each difference; exits 1 on any.

JSON: {"alignment": A, "metadata": [{"key", "type", "value"}], "tensors": [{"name", "shape" (ggml
order), "type_id", "data_hex"}]}; an array value is {"element_type", "elements": [values]}.
"""
import json
import struct
import sys

import numpy as np
import gguf
from gguf import GGUFValueType as T

TYPE_NAMES = {T.UINT8: "u8", T.INT8: "i8", T.UINT16: "u16", T.INT16: "i16", T.UINT32: "u32",
              T.INT32: "i32", T.FLOAT32: "f32", T.BOOL: "bool", T.STRING: "string", T.ARRAY: "array",
              T.UINT64: "u64", T.INT64: "i64", T.FLOAT64: "f64"}


def f32(x):
    """The double nearest the f32 that x rounds to, as gguf stores it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def write(out_gguf, out_json):
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(out_gguf, "llama")  # adds general.architecture first
    meta = [("general.architecture", "string", "llama")]

    def kv(key, tname, gtype, value, expected=None):
        w.add_key_value(key, value, gtype)
        meta.append((key, tname, value if expected is None else expected))

    kv("t.u8", "u8", T.UINT8, 200)
    kv("t.i8", "i8", T.INT8, -100)
    kv("t.u16", "u16", T.UINT16, 60000)
    kv("t.i16", "i16", T.INT16, -30000)
    kv("t.u32", "u32", T.UINT32, 4000000000)
    kv("t.i32", "i32", T.INT32, -2000000000)
    kv("t.f32", "f32", T.FLOAT32, 0.1, f32(0.1))
    kv("t.bool", "bool", T.BOOL, True)
    kv("t.string", "string", T.STRING, "héllo, wörld")
    kv("t.u64", "u64", T.UINT64, 18000000000000000000)
    kv("t.i64", "i64", T.INT64, -9000000000000000000)
    kv("t.f64", "f64", T.FLOAT64, 1.0 / 3.0)
    kv("t.empty_string", "string", T.STRING, "")

    def arr(key, sub, values, expected=None):
        w.add_key_value(key, values, T.ARRAY, sub_type=sub)
        meta.append((key, "array", {"element_type": TYPE_NAMES[sub],
                                    "elements": values if expected is None else expected}))

    arr("a.u8", T.UINT8, [0, 1, 255])
    arr("a.i8", T.INT8, [-128, 0, 127])
    arr("a.u16", T.UINT16, [65535, 7])
    arr("a.i16", T.INT16, [-32768, 32767])
    arr("a.u32", T.UINT32, [1, 2, 3, 4])
    arr("a.i32", T.INT32, [-5, 6])
    arr("a.f32", T.FLOAT32, [1.5, -0.1, 3e38], [1.5, f32(-0.1), f32(3e38)])
    arr("a.bool", T.BOOL, [True, False, True])
    arr("a.string", T.STRING, ["a", "", "tokens ▁with ünïcode"])
    arr("a.u64", T.UINT64, [2**64 - 1])
    arr("a.i64", T.INT64, [-(2**63), 2**63 - 1])
    arr("a.f64", T.FLOAT64, [2.5, -1e300])
    # Nested arrays: gguf-py infers inner element types (int -> i32, float -> f32, str -> string).
    w.add_key_value("n.ints", [[1, 2, 3], [4]], T.ARRAY, sub_type=T.ARRAY)
    meta.append(("n.ints", "array", {"element_type": "array", "elements": [
        {"element_type": "i32", "elements": [1, 2, 3]}, {"element_type": "i32", "elements": [4]}]}))
    w.add_key_value("n.strings", [["x", "yy"], ["zzz"]], T.ARRAY, sub_type=T.ARRAY)
    meta.append(("n.strings", "array", {"element_type": "array", "elements": [
        {"element_type": "string", "elements": ["x", "yy"]},
        {"element_type": "string", "elements": ["zzz"]}]}))
    w.add_key_value("n.deep", [[[0.5]]], T.ARRAY, sub_type=T.ARRAY)
    meta.append(("n.deep", "array", {"element_type": "array", "elements": [
        {"element_type": "array", "elements": [{"element_type": "f32", "elements": [0.5]}]}]}))

    tensors = []
    a = rng.standard_normal((3, 5)).astype(np.float32)  # numpy (rows, cols) = ggml [5, 3]
    b = rng.standard_normal((7,)).astype(np.float16)
    q = rng.integers(0, 256, size=(2, 34), dtype=np.uint8)  # 2 rows of one Q8_0 block (34 bytes)
    w.add_tensor("a.weight", a)
    w.add_tensor("b.bias", b)
    w.add_tensor("q.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    tensors.append({"name": "a.weight", "shape": [5, 3], "type_id": 0, "data_hex": a.tobytes().hex()})
    tensors.append({"name": "b.bias", "shape": [7], "type_id": 1, "data_hex": b.tobytes().hex()})
    tensors.append({"name": "q.weight", "shape": [32, 2], "type_id": 8, "data_hex": q.tobytes().hex()})

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(out_json, "w") as f:
        json.dump({"alignment": 32,
                   "metadata": [{"key": k, "type": t, "value": v} for k, t, v in meta],
                   "tensors": tensors}, f, indent=1, ensure_ascii=False)


def decode(parts, i, gtype):
    """Rebuilds one value from GGUFReader's flat `parts`; returns (value, next part index)."""
    if gtype == T.STRING:
        return bytes(parts[i + 1]).decode("utf-8"), i + 2
    if gtype == T.ARRAY:
        etype = T(int(parts[i][0]))
        count = int(parts[i + 1][0])
        i += 2
        elements = []
        for _ in range(count):
            v, i = decode(parts, i, etype)
            elements.append(v)
        return {"element_type": TYPE_NAMES[etype], "elements": elements}, i
    v = parts[i][0]
    if gtype == T.BOOL:
        return bool(v), i + 1
    if gtype in (T.FLOAT32, T.FLOAT64):
        return float(v), i + 1
    return int(v), i + 1


def check(path, expected_json):
    with open(expected_json) as f:
        expected = json.load(f)
    r = gguf.GGUFReader(path)
    errors = []
    fields = [f for f in r.fields.values() if not f.name.startswith("GGUF.")]
    got_keys = [f.name for f in fields]
    want_keys = [m["key"] for m in expected["metadata"]]
    if got_keys != want_keys:
        errors.append(f"keys differ:\n  got  {got_keys}\n  want {want_keys}")
    by_name = {f.name: f for f in fields}
    for m in expected["metadata"]:
        f = by_name.get(m["key"])
        if f is None:
            continue
        # parts = [key length, key bytes, value type, value parts...]
        gtype = T(int(f.parts[2][0]))
        value, end = decode(f.parts, 3, gtype)
        if end != len(f.parts):
            errors.append(f"{m['key']}: {len(f.parts) - end} unconsumed parts")
        if TYPE_NAMES[gtype] != m["type"]:
            errors.append(f"{m['key']}: type {TYPE_NAMES[gtype]}, want {m['type']}")
        if value != m["value"]:
            errors.append(f"{m['key']}: value {value!r}, want {m['value']!r}")
    if r.alignment != expected["alignment"]:
        errors.append(f"alignment {r.alignment}, want {expected['alignment']}")
    got_t = [t.name for t in r.tensors]
    want_t = [t["name"] for t in expected["tensors"]]
    if got_t != want_t:
        errors.append(f"tensors differ: got {got_t}, want {want_t}")
    for t, want in zip(r.tensors, expected["tensors"]):
        if [int(d) for d in t.shape] != want["shape"]:
            errors.append(f"{t.name}: shape {list(t.shape)}, want {want['shape']}")
        if int(t.tensor_type) != want["type_id"]:
            errors.append(f"{t.name}: type {int(t.tensor_type)}, want {want['type_id']}")
        data = np.asarray(t.data).tobytes()
        if data.hex() != want["data_hex"]:
            errors.append(f"{t.name}: {len(data)} data bytes differ from the expected "
                          f"{len(want['data_hex']) // 2}")
    for e in errors:
        print("gguf-py oracle: " + e)
    print(f"gguf-py oracle: {len(want_keys)} keys, {len(want_t)} tensors checked, "
          f"{len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(check(sys.argv[2], sys.argv[3]))
