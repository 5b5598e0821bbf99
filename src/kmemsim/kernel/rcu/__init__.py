"""kernel/rcu/: read-copy update (tree.py)."""
