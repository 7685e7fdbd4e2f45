"""Build script for the one thing pyproject.toml cannot declare: the optional C extension.

``mmsim.mm._buddy`` holds compiled twins of the buddy allocator's innermost loops
(see the comment at the top of ``mmsim/mm/_buddy.c``). It is *optional*: when no C
compiler is available, setuptools skips it (a warning in the build log, which pip
hides unless run with ``-v``), and mmsim runs the
equivalent Python loops (same results, slower compaction and reclaim).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("mmsim.mm._buddy", sources=["mmsim/mm/_buddy.c"], optional=True),
    ],
)
