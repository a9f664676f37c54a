"""io: weight files, each format described, checked against the graph, then loaded."""
