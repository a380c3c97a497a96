"""The ``spandex`` command: one module per subcommand, each a thin layer over :mod:`engine`."""
