"""Local development: the runner that serves the Lambda handlers against an embedded AWS emulator.

Never deployed: serverless.yml packages only handlers/ and otp/.
"""
