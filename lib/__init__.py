"""The book's shared NumPy library.

One module per topic; every chapter trains with the code here, and every
chapter checks it against its SymPy derivations.  Shape vocabulary used in all
docstrings: N batch, D input features, M output features, H hidden units,
C classes or channels, T time steps; images are NCHW.
"""
