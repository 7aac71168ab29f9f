#!/usr/bin/env python3
"""Writes reference.gguf and reference_align64.gguf with the official `gguf` Python package (0.19.0).

Run once, then commit the outputs; the tests read them without Python:
    /tmp/fixenv/bin/python Tests/GGUFTests/Fixtures/make_reference.py
ReferenceFileTests.swift checks exactly what this script writes; change both together.
"""
import os

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, alignment=None):
    writer = gguf.GGUFWriter(os.path.join(HERE, name), arch="qwen2moe")  # adds general.architecture first
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    writer.add_uint8("test.uint8", 200)
    writer.add_int8("test.int8", -100)
    writer.add_uint16("test.uint16", 60000)
    writer.add_int16("test.int16", -30000)
    writer.add_uint32("test.uint32", 4000000000)
    writer.add_int32("test.int32", -2000000000)
    writer.add_float32("test.float32", 0.5)
    writer.add_bool("test.bool", True)
    writer.add_string("test.string", "héllo ✓")
    writer.add_uint64("test.uint64", 2**63 + 5)
    writer.add_int64("test.int64", -(2**62))
    writer.add_float64("test.float64", -1.25)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "ab"])
    writer.add_array("test.int_array", [1, 2, 3])  # the package stores Python ints as int32

    # numpy shapes are outermost-first; GGUF stores them reversed (ggml order, row length first).
    writer.add_tensor("token_embd.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
    writer.add_tensor("blk.0.ffn_gate_exps.weight", (np.arange(24, dtype=np.float16) / 4).reshape(2, 3, 4))
    q8 = np.arange(2 * 34, dtype=np.uint8).reshape(2, 34)  # 2 rows of one Q8_0 block (32 elements, 34 bytes)
    writer.add_tensor("blk.0.attn_q.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


write("reference.gguf")
write("reference_align64.gguf", alignment=64)
