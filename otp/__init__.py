"""One-time-password service: the package behind the generate, verify and verifications Lambdas.

Layers, outermost first: ``handlers`` -> ``otp.bootstrap`` -> ``otp.http`` -> ``otp.use_cases`` ->
``otp.domain`` (with ``otp.messages`` and ``otp.config``). ``otp.aws`` holds the adapters behind the
domain's ports and is reached only through the bootstrap. import-linter checks these rules
(``[tool.importlinter]`` in pyproject.toml); docs/architecture.md draws them.
"""
