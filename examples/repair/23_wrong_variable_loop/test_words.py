from words import longest

def test_longest():
    assert longest(["a", "abc", "ab"]) == "abc"

def test_empty():
    assert longest([]) == ""
