"""Pure, vectorised calculations of China's national environmental standards.

Every function here takes and returns numpy arrays (or Arrow/polars tables) and does no I/O
beyond reading the reference tables shipped in ``standards/data``. Each formula cites its
standard and clause in its docstring; each table file names its source.
"""
