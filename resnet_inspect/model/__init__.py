"""model: architecture as data and the pure-Python engine (ops, graph, names, trace, totals)."""
