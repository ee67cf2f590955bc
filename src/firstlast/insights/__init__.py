"""Insights: what the bot could not answer, what it resolved, and a safe way to turn it on.

rollout.py    the A/B arm of a new conversation (a stable hash), pure
facts.py      one row of facts per conversation, read from what the desk stored; "resolved by the
              bot" is decided here
resolution.py per-day / per-week numbers, handoff reasons, times, CSAT by who answered, learned
              entries' usage, retrieval misses
stats.py      intervals (Wilson, bootstrap) and the arm comparison's verdict
gaps.py       content gaps: unanswered questions clustered into topics (HDBSCAN) and labelled
service.py    the facade the API and the CLI call
report.py     the HTML report with matplotlib charts
"""
