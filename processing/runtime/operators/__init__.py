"""Executable operators: one class per core plan operator (see topology.compiler.plan)."""
