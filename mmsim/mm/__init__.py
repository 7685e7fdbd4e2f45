"""The kernel mirror: one module per Linux v5.0 source file under ``mm/``.

``mmzone`` (include/linux/mmzone.h) holds the state; ``page_alloc`` the buddy
allocator, per-cpu lists and watermarks; ``vmstat`` the counters and
fragmentation indices; ``khugepaged`` the THP raise of ``min_free_kbytes``;
``gfp`` the allocation flags; ``layout`` the boot-time layout of a node.
"""
