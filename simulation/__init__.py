"""What-if simulation over an in-memory snapshot of the dependency graph: failure
propagation with redundancy, capacity cascades, single points of failure and Monte Carlo
availability, as pure functions of the snapshot."""
