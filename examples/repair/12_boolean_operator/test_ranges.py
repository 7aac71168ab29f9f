from ranges import in_range

def test_inside():
    assert in_range(5, 1, 10)

def test_below():
    assert not in_range(0, 1, 10)

def test_above():
    assert not in_range(11, 1, 10)
