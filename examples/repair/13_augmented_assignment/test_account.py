import pytest
from account import Account

def test_withdraw():
    assert Account(100).withdraw(30) == 70

def test_overdraw():
    with pytest.raises(ValueError):
        Account(10).withdraw(20)
