"""AWS adapters behind the ports of ``otp.domain.ports``: they report facts, the domain rules on them.

Only this package imports botocore; only ``otp.bootstrap`` imports this package (via ``factories``).
"""
