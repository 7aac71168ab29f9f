def power(base, exponent):
    return base ** exponent


def cube(x):
    return power(3, x)
