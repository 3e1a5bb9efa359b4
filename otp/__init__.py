"""One-time-password service: the shared package behind the /generate and /verify Lambdas.

The domain modules (config, codes, destinations, verification, service, errors, models) never
import boto3; the AWS adapters live in ``otp.aws`` behind the interfaces in ``otp.ports``.
"""
