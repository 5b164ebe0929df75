"""Symbolic reference for layers: the layer's own numpy forward run on SymPy symbols."""
