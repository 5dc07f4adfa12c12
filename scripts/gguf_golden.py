#!/usr/bin/env python3
"""Golden dumps of GGUF headers made with an independent reader (gguf-py from
the llama.cpp source tree), for rooftune's tests/gguf_vocab.rs.

usage: PYTHONPATH=~/.cache/rooftune/src/llama.cpp-b11434/gguf-py \
         python3 scripts/gguf_golden.py OUT_DIR FILE.gguf...

Each dump holds the version, tensor count, every metadata key with its type
and value (arrays as length + first 8 + last 2 elements), and tensor infos.
"""
import json
import os
import sys

import gguf


def contents(field):
    v = field.contents()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v


def summarize(field):
    t = field.types[0].name if field.types else None
    if t == "ARRAY":
        v = contents(field)
        return {"type": "ARRAY", "elem": field.types[-1].name, "len": len(v), "head": v[:8], "tail": v[-2:]}
    return {"type": t, "value": contents(field)}


def main():
    out = sys.argv[1]
    for path in sys.argv[2:]:
        r = gguf.GGUFReader(path)
        meta = {}
        for name, field in r.fields.items():
            if name.startswith("GGUF."):
                continue
            meta[name] = summarize(field)
        dump = {
            "version": int(r.fields["GGUF.version"].contents()),
            "n_tensors": len(r.tensors),
            "metadata": meta,
            "tensors": [
                {"name": t.name, "dims": [int(d) for d in t.shape], "type": int(t.tensor_type), "bytes": int(t.n_bytes)}
                for t in r.tensors
            ],
        }
        name = os.path.basename(path).replace(".gguf", ".json")
        with open(os.path.join(out, name), "w") as f:
            json.dump(dump, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(name, len(meta), "keys")


if __name__ == "__main__":
    main()
