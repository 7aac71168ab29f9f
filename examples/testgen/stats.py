"""Descriptive statistics over lists of numbers."""
import math


def mean(values: list[float]) -> float:
    """Arithmetic mean.

    >>> mean([1, 2, 3])
    2.0
    """
    # Planted bug: an empty list divides by zero.
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    # Planted bug: an empty list indexes past the end.
    return (ordered[middle - 1] + ordered[middle]) / 2


def variance(values: list[float], sample: bool = False) -> float:
    if len(values) < 2 and sample:
        raise ValueError("sample variance needs at least two values")
    if not values:
        return 0.0
    m = sum(values) / len(values)
    squares = sum((v - m) ** 2 for v in values)
    return squares / (len(values) - 1 if sample else len(values))


def stdev(values: list[float], sample: bool = False) -> float:
    return math.sqrt(variance(values, sample))


def percentile(values: list[float], p: float) -> float:
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def normalize(values: list[float]) -> list[float]:
    """Scale values to 0..1."""
    low, high = min(values), max(values)
    # Planted bug: all-equal values divide by zero.
    return [(v - low) / (high - low) for v in values]


def histogram(values: list[float], bins: int = 4) -> list[int]:
    if bins <= 0:
        raise ValueError("bins must be positive")
    counts = [0] * bins
    if not values:
        return counts
    low, high = min(values), max(values)
    width = (high - low) / bins or 1
    for v in values:
        index = int((v - low) / width)
        if index == bins:
            index -= 1
        counts[index] += 1
    return counts


def moving_average(values: list[float], window: int) -> list[float]:
    if window < 1:
        raise ValueError("window must be at least 1")
    result = []
    for i in range(len(values) - window + 1):
        result.append(sum(values[i:i + window]) / window)
    return result
