from prices import cheapest

def test_cheapest():
    assert cheapest([5, 2, 9]) == 2
