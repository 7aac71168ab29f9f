"""Robustness module for testgen: output floods on every channel (print, sys.__stdout__, the file descriptors,
sys.stderr), beside ordinary functions."""
import os
import sys


def shout(n: int) -> int:
    for _ in range(n):
        print("x" * 100_000)
    return n


def raw_write(n: int) -> int:
    if n > 0:
        os.write(1, b"{not json}\n" * 100_000)
        os.write(2, b"y" * 1_000_000)
    return n


def real_stdout(text: str) -> str:
    sys.__stdout__.write(text * 10_000 + "\n")
    sys.__stdout__.flush()
    return text.upper()


def scale(x: float, factor: float = 2.0) -> float:
    if factor == 0:
        raise ValueError("factor must not be zero")
    return x * factor
