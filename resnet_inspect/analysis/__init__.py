"""analysis: questions answered from a trace (receptive field, memory, peers, sweeps, checks, diffs)."""
