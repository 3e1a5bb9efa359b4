"""One-time-password service: the package behind the generate, verify and verifications Lambdas.

Layers, outermost first: ``handlers`` -> ``otp.bootstrap`` -> ``otp.http`` -> ``otp.use_cases`` ->
``otp.domain`` (with ``otp.messages`` and ``otp.config``). ``otp.aws`` holds the adapters behind the
domain's ports and is reached only through the bootstrap. import-linter checks these rules
(``[tool.importlinter]`` in pyproject.toml); docs/architecture.md draws them.
"""

import os as _os

# No pydantic plugin is used here. Without this, pydantic's first model scans the entry points of
# every installed distribution for plugins: 7 to 10 ms of each cold start, in every function.
_os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
