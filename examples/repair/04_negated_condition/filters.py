def positives(values):
    out = []
    for v in values:
        if not v > 0:
            out.append(v)
    return out
