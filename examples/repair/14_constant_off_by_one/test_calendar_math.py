from calendar_math import weeks_to_days

def test_one_week():
    assert weeks_to_days(1) == 7

def test_three_weeks():
    assert weeks_to_days(3) == 21
