from filters import positives

def test_mixed():
    assert positives([-1, 2, 0, 3]) == [2, 3]

def test_empty():
    assert positives([]) == []
