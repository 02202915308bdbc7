"""The work behind the ``files`` tool set, outside the ``tools/`` folder so
that discovery (which imports every module there before ``describe``) does
not load it: it is imported on the first file tool call."""
