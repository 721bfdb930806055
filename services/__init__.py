"""Conveyor's programs: the gateway, the scheduler, worker supervision and the CLI."""
