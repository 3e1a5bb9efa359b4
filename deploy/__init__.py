"""Packaging steps of the deployment that serverless.yml runs through deploy/compile-bytecode.js."""
