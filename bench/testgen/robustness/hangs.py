"""Robustness module for testgen: calls that never return (a Python loop, a loop in C, a loop that swallows
every exception, a long sleep), beside ordinary functions that should still get tests."""
import time


def spin(n: int) -> int:
    """Loops forever for negative n."""
    while n != 0:
        n -= 1 if n > 0 else -2
    return n


def stubborn(flag: bool) -> str:
    """Catches everything, the time limit's exception included, and keeps going."""
    if flag:
        while True:
            try:
                time.sleep(0.01)
            except BaseException:
                pass
    return "done"


def c_loop(n: int) -> int:
    """A loop inside C code (no Python signal handler runs until it ends) for large n."""
    if n > 5:
        return sum(range(10 ** 15))
    return n * 2


def nap(seconds: float) -> float:
    if seconds > 1:
        time.sleep(3600)
    return seconds


def classify(x: int) -> str:
    if x < 0:
        return "negative"
    if x == 0:
        return "zero"
    return "positive"
