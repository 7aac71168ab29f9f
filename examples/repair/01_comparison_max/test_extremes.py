from extremes import largest

def test_largest_in_middle():
    assert largest([1, 9, 4]) == 9

def test_single():
    assert largest([5]) == 5

def test_negative():
    assert largest([-3, -1, -2]) == -1
