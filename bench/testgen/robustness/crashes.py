"""Robustness module for testgen: calls that kill the interpreter (abort, segfault, os._exit, sys.exit, a
recursion that overflows the C stack, exhausting memory), beside ordinary functions."""
import ctypes
import os
import sys


def abort_if(code: int) -> int:
    if code == 7:
        os.abort()
    return code + 1


def segfault_if(flag: bool) -> str:
    if flag:
        ctypes.string_at(0)
    return "fine"


def leave(status: int) -> int:
    if status > 2:
        os._exit(status)
    if status == 2:
        sys.exit("bye")
    return status


def hog(n: int) -> int:
    if n > 50:
        block = bytearray(1 << 40)
        return len(block)
    return n


def deep(n: int) -> int:
    return 0 if n <= 0 else 1 + deep(n - 1)


def parity(n: int) -> str:
    return "even" if n % 2 == 0 else "odd"
