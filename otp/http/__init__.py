"""The HTTP edge: each function's app (routes over its use cases), the transport rules of the
contract, the mapping of domain errors to responses, the request and response models."""
