def scale(values, factor):
    result = []
    for value in values:
        result.append(value * value)
    return result
