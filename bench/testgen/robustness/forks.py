"""Robustness module for testgen: calls that start processes (os.fork, subprocess, a fork through ctypes that
bypasses Python's audit hooks, a child that sleeps forever), beside ordinary functions."""
import ctypes
import os
import subprocess
import time


def fork_sleep(n: int) -> int:
    if n > 3:
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
    return n


def shell(command: str) -> str:
    if command:
        return subprocess.run(["sh", "-c", "sleep 3600"], capture_output=True, text=True).stdout
    return ""


def raw_fork(flag: bool) -> int:
    if flag:
        pid = ctypes.CDLL(None).fork()
        if pid == 0:
            time.sleep(3600)
            os._exit(0)
        return 1
    return 0


def clamp(x: int, low: int = 0, high: int = 10) -> int:
    if x < low:
        return low
    if x > high:
        return high
    return x
