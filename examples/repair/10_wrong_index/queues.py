def newest(events):
    return events[0]
