"""AWS adapters behind the interfaces of ``otp.ports``. Only this package imports boto3."""
