from timing import elapsed

def test_elapsed():
    assert elapsed(10, 25) == 15

def test_same():
    assert elapsed(3, 3) == 0
