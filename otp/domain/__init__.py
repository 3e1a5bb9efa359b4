"""The domain: what a code, a destination and a verification are, and every rule over them.

Nothing here imports an AWS SDK or Powertools; the use cases reach the outside world only through
the Protocols in ``otp.domain.ports``. import-linter holds this (``[tool.importlinter]``).
"""
