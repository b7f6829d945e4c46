"""The built-in kinds, registered by importing their packages (see `config.kinds`).

Imported by whoever loads a config (the composition root, the operator commands, the local
world) before it does. A kind of one's own is one module that registers itself, plus its import
here; its package's import list is enough for a built-in one. The channels' order is the order
of `settings.notify`'s defaults; the gates' is the order they are decided in.
"""

from chalicelib.deployments import gates
from chalicelib.notify import sns, webhook
from chalicelib.probe import checks
from chalicelib.runbooks import steps

__all__ = ["checks", "gates", "sns", "steps", "webhook"]
