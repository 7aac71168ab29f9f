from stats import mean

def test_mean():
    assert mean([2, 4, 6]) == 4

def test_single():
    assert mean([7]) == 7
