"""Classic recursive helpers: factorials, Fibonacci, flattening, permutations, Collatz."""


def factorial(n: int) -> int:
    """n! by recursion.

    >>> factorial(5)
    120
    """
    # Planted bug: negative n recurses forever (RecursionError).
    if n == 0:
        return 1
    return n * factorial(n - 1)


def fibonacci(n: int, memo: dict = None) -> int:
    if n < 0:
        raise ValueError("n must not be negative")
    if memo is None:
        memo = {}
    if n < 2:
        return n
    if n not in memo:
        memo[n] = fibonacci(n - 1, memo) + fibonacci(n - 2, memo)
    return memo[n]


def flatten(items: list) -> list:
    result = []
    for item in items:
        if isinstance(item, (list, tuple)):
            result.extend(flatten(item))
        else:
            result.append(item)
    return result


def permutations(items: list) -> list:
    if len(items) <= 1:
        return [list(items)]
    result = []
    for i, item in enumerate(items):
        for rest in permutations(items[:i] + items[i + 1:]):
            result.append([item] + rest)
    return result


def collatz_steps(n: int) -> int:
    # Planted bug: n <= 0 never reaches 1 (an endless loop).
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def gcd(a: int, b: int) -> int:
    if b == 0:
        return abs(a)
    return gcd(b, a % b)


def power_set(items: list) -> list:
    if not items:
        return [[]]
    rest = power_set(items[1:])
    return rest + [[items[0]] + subset for subset in rest]
