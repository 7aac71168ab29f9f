#!/usr/bin/env python3
"""Record llama.cpp's logits for the quantized fixture variants (F16, Q8_0), the reference the Swift engine's
quantized arithmetic is compared with (the F32 transformers reference differs more, because random routers
switch experts once weights are quantized).

    /tmp/fixenv/bin/python tools/record_variant_references.py   # needs llama-cpp-python==0.3.36 (tools/README.md)

Writes Tests/Fixtures/models/<name>-<variant>.reference.json: {"reference": ..., "prompts": [{"tokens", "logits"}]}.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "Tests", "Fixtures", "models")


def main():
    import llama_cpp
    import numpy as np
    if llama_cpp.__version__ != "0.3.36":
        sys.exit(f"need llama-cpp-python 0.3.36, found {llama_cpp.__version__}")
    for name in sorted(os.listdir(MODELS)):
        if not name.endswith(".json") or name.endswith(".reference.json"):
            continue
        fixture = json.load(open(os.path.join(MODELS, name)))
        for kind, file in sorted(fixture.get("variants", {}).items()):
            llm = llama_cpp.Llama(model_path=os.path.join(MODELS, file), n_ctx=256, logits_all=True,
                                  flash_attn=False, type_k=0, type_v=0, n_threads=1, verbose=False)
            prompts = []
            for p in fixture["prompts"]:
                llm.reset()
                llm.eval(p["tokens"])
                logits = np.array(llm.scores[: len(p["tokens"])], dtype=np.float32)
                prompts.append({"tokens": p["tokens"],
                                "logits": [[float(f"{v:.6g}") for v in row] for row in logits]})
            out = os.path.join(MODELS, file.replace(".gguf", ".reference.json"))
            with open(out, "w") as f:
                json.dump({"reference": f"llama-cpp-python {llama_cpp.__version__} (flash_attn off, F32 KV)",
                           "model": file, "prompts": prompts}, f, separators=(",", ":"))
            print(f"wrote {out}")


if __name__ == "__main__":
    main()
