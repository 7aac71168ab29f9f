from totals import order_total

def test_total():
    assert order_total([10, 20], 5) == 25

def test_no_discount():
    assert order_total([3], 0) == 3
