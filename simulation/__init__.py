"""What-if simulation over an in-memory snapshot of the dependency graph.
(Arrives with the simulation issue.)"""
