"""Figure layer: every plot and image of a leaderboard, embedded as data URIs."""
