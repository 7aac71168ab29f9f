from queues import newest

def test_newest():
    assert newest(["a", "b", "c"]) == "c"

def test_one():
    assert newest(["x"]) == "x"
