from sizes import size

def test_list():
    assert size([1, 2]) == 2

def test_none():
    assert size(None) == 0
