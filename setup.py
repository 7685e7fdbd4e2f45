"""Build script for the one thing pyproject.toml cannot declare: the optional C extension.

``mmsim.mm._buddy`` holds compiled twins of the buddy allocator's innermost loops
(see the comment at the top of ``mmsim/mm/_buddy.c``). It is *optional*: when no C
compiler is available, setuptools prints a warning, skips it, and mmsim runs the
equivalent Python loops (same results, slower compaction and reclaim).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("mmsim.mm._buddy", sources=["mmsim/mm/_buddy.c"], optional=True),
    ],
)
