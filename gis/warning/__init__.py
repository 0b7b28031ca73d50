"""Monitoring and early warning (监测预警), pure: warning rules graded 蓝 < 黄 < 橙 < 红 (rules.py),
stations judged against them from their observations (judge.py) and the hysteresis that raises one
alert per station and rule family (hysteresis.py)."""
