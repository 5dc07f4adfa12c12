# A model's tensors, bytes and types, relabelled as a llama model: what the
# graph of its own architecture costs beside llama's, with every weight the
# same (docs/calibrate.md, "Gemma 3's layers run more operations").
#
#   PYTHONPATH=~/.cache/rooftune/src/llama.cpp-b11434/gguf-py \
#     python3 benches/relabel-as-llama.py gemma-3-270m-q4_k_m.gguf gemma-as-llama.gguf
#
# Written for Gemma 3 (`gemma3.*` keys): its per-head Q/K norms and the norms
# after attention and the FFN are dropped (llama's graph has no place for
# them); the sliding window goes too, so every layer attends the whole
# context. Needs numpy and llama.cpp's gguf-py (in the source tree
# scripts/install-llama-server.sh unpacks).
import sys, numpy as np
from gguf import GGUFReader, GGUFWriter, GGUFValueType

SKIP_KEYS = {"general.architecture", "GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}
SKIP_PARTS = ("sliding_window", "rope.scaling", "final_logit", "attn_logit")
DROP_TENSORS = ("attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm")

src, dst = sys.argv[1], sys.argv[2]
r = GGUFReader(src)
w = GGUFWriter(dst, "llama")
for f in r.fields.values():
    k = f.name
    if k in SKIP_KEYS:
        continue
    k2 = k
    if k.startswith("gemma3."):
        k2 = "llama." + k[len("gemma3."):]
        if any(p in k2 for p in SKIP_PARTS):
            continue
    t = f.types[0]
    if t == GGUFValueType.ARRAY:
        et = f.types[1]
        if et == GGUFValueType.STRING:
            vals = [bytes(f.parts[i]).decode("utf-8", "replace") for i in f.data]
        else:
            vals = [f.parts[i].tolist()[0] for i in f.data]
        w.add_key_value(k2, vals, t, sub_type=et)
    elif t == GGUFValueType.STRING:
        w.add_key_value(k2, bytes(f.parts[f.data[0]]).decode("utf-8", "replace"), t)
    else:
        w.add_key_value(k2, f.parts[f.data[0]].tolist()[0], t)
for t in r.tensors:
    if not any(d in t.name for d in DROP_TENSORS):
        w.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
