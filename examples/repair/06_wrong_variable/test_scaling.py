from scaling import scale

def test_scale():
    assert scale([1, 2, 3], 10) == [10, 20, 30]

def test_empty():
    assert scale([], 3) == []
