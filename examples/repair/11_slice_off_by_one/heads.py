def head(items, n):
    return items[:n - 1]
