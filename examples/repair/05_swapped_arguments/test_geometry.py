from geometry import cube, power

def test_power():
    assert power(2, 5) == 32

def test_cube():
    assert cube(2) == 8
    assert cube(4) == 64
