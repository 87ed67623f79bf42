"""Trainers for a population on a task: FORCE (RLS on readouts) and BPTT (Adam), plus evaluation."""
