"""Sub-commands of the CLI. Each module has ``register(subparsers)``, which sets ``run`` on its parser."""
