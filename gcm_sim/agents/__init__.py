"""The actors: vectorised populations (households, migrants) and institutional Mesa agents."""
