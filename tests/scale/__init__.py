"""Scale-out: shared limits, budgets and usage on a real Redis, across real processes."""
