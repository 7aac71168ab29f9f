def count_of(values, target):
    count = 0
    for v in values:
        if v != target:
            count += 1
    return count
