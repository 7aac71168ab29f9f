from shouting import is_shouting

def test_shout():
    assert is_shouting("HELLO!")

def test_quiet():
    assert not is_shouting("hello")

def test_no_letters():
    assert not is_shouting("123")
