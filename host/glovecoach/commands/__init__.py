"""One module per `glovecoach` sub-command.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning an exit code).
`glovecoach.cli` discovers the modules here, so adding a command is adding a file.
"""
