from search import find

def test_found():
    assert find([1, 3, 5, 7], 5) == 2

def test_first():
    assert find([1, 3, 5, 7], 1) == 0

def test_missing_above():
    assert find([1, 3, 5, 7], 9) == -1

def test_missing_below():
    assert find([1, 3, 5, 7], 0) == -1
