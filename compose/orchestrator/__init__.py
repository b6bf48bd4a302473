"""Orchestration: plan (convergence), walk the graph (executor), supervise (health, restarts)."""
