# The reference scripts run in their own environments (gbstats pins numpy<2): never
# import them in the test session.
collect_ignore = ["experiment_gbstats.py"]
