from factorials import factorial

def test_small():
    assert factorial(4) == 24

def test_base():
    assert factorial(1) == 1
    assert factorial(0) == 1
