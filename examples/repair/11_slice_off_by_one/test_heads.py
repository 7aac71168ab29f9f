from heads import head

def test_head():
    assert head([1, 2, 3, 4], 2) == [1, 2]

def test_all():
    assert head([1, 2], 5) == [1, 2]
