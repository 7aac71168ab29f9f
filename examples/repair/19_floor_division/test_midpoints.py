from midpoints import midpoint

def test_even():
    assert midpoint(2, 6) == 4

def test_odd_rounds_down():
    assert midpoint(3, 6) == 4
    assert isinstance(midpoint(3, 6), int)
