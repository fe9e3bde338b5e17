"""Running placed segments on Prefect: the one run path, task runners, plans, QPU access and slots, cache keys."""
