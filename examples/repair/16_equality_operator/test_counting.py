from counting import count_of

def test_count():
    assert count_of([1, 2, 1, 1], 1) == 3

def test_none():
    assert count_of([], 1) == 0
