"""`SIGV4=true make run`: the runner checks each request as API Gateway's IAM authorizer does.

A request must carry a Signature Version 4 signature for service `execute-api` and the runner's
region, made with the runner's public local credentials. The signature is recomputed with
botocore's own signer from what was received (method, path, query, the headers the request lists
in SignedHeaders, and the hash of the body that arrived), so a signature over another body, path
or time does not pass. Refusals are API Gateway's: 403 with `{"message": ...}`.

These credentials are public on purpose: they prove a client signs correctly, not who it is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

ACCESS_KEY_ID = "local"
SECRET_ACCESS_KEY = "local"  # noqa: S105 (public by design, printed in the banner)
DEFAULT_REGION = "ap-south-1"
SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=5)

# API Gateway's own wording, so a client's error handling meets here what it meets in AWS.
MISSING = "Forbidden"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."

_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM}\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, told which headers the request signed and which body arrived.

    botocore signs every header a request has; a verifier must canonicalize exactly the headers the
    client listed, and must hash the body it received rather than trust a declared hash.
    """

    def __init__(self, region: str, signed: HTTPHeaders, body_hash: str) -> None:
        super().__init__(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), SERVICE, region)
        self._signed = signed
        self._body_hash = body_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed

    def payload(self, request: AWSRequest) -> str:
        return self._body_hash

    def expected_signature(self, request: AWSRequest) -> str:
        canonical = self.canonical_request(request)
        return str(self.signature(self.string_to_sign(request, canonical), request))


@dataclass(frozen=True)
class SigV4Check:
    region: str

    def refusal(
        self,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        now: datetime | None = None,
    ) -> str | None:
        """None when the request is signed as API Gateway requires; else the message it answers with."""
        received = HTTPHeaders()
        for name, value in headers:
            received[name.lower()] = value
        found = _AUTHORIZATION.match((received.get("authorization") or "").strip())
        if found is None:
            return MISSING
        problem = self._scope_problem(found["credential"], received.get("x-amz-date") or "")
        if problem:
            return problem
        timestamp = received["x-amz-date"]
        problem = _clock_problem(timestamp, now or datetime.now(UTC))
        if problem:
            return problem
        body_hash = hashlib.sha256(body).hexdigest()
        declared = received.get("x-amz-content-sha256")
        if declared is not None and not hmac.compare_digest(declared.lower(), body_hash):
            return MISMATCH  # a declared hash of some other body
        if received.get("x-amz-security-token") is not None:
            return UNKNOWN_KEY  # the local credentials carry no session token
        signed = _signed_headers(found["signed"], received)
        if signed is None:
            return MISMATCH
        request = AWSRequest(method=method, url=_url(received["host"], path, query), data=body)
        request.context["timestamp"] = timestamp
        expected = _ReceivedRequestSigner(self.region, signed, body_hash).expected_signature(request)
        if not hmac.compare_digest(expected.encode(), found["signature"].encode()):
            return MISMATCH
        return None

    def _scope_problem(self, credential: str, timestamp: str) -> str | None:
        parts = credential.split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            return f"Authorization header requires 'Credential' parameter. Authorization={credential}"
        access_key, day, region, service, _ = parts
        if not hmac.compare_digest(access_key.encode(), ACCESS_KEY_ID.encode()):
            return UNKNOWN_KEY
        if not re.fullmatch(r"\d{8}T\d{6}Z", timestamp):
            return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        if day != timestamp[:8]:
            return (
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{day}' != '{timestamp[:8]}'"
            )
        if region != self.region:
            return f"Credential should be scoped to a valid region, not '{region}'."
        if service != SERVICE:
            return f"Credential should be scoped to correct service: '{SERVICE}'."
        return None

    def banner(self) -> list[str]:
        return [
            f"  SIGV4=true: API requests must be signed (SigV4, service {SERVICE}, region {self.region}) with",
            f"  access key id {ACCESS_KEY_ID!r}, secret access key {SECRET_ACCESS_KEY!r}. /_local/* needs none. curl:",
            f'  curl --aws-sigv4 "aws:amz:{self.region}:{SERVICE}" --user {ACCESS_KEY_ID}:{SECRET_ACCESS_KEY} ...\n',
        ]


def _clock_problem(timestamp: str, now: datetime) -> str | None:
    try:
        signed_at = datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    stamp = now.strftime(SIGV4_TIMESTAMP)
    if signed_at < now - MAX_CLOCK_SKEW:
        earliest = (now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)
        return f"Signature expired: {timestamp} is now earlier than {earliest} ({stamp} - 5 min.)"
    if signed_at > now + MAX_CLOCK_SKEW:
        latest = (now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)
        return f"Signature not yet current: {timestamp} is still later than {latest} ({stamp} + 5 min.)"
    return None


def _signed_headers(listed: str, received: HTTPHeaders) -> HTTPHeaders | None:
    """The headers named in SignedHeaders, with every value received; None if one is absent or host is not signed."""
    names = listed.lower().split(";")
    if "host" not in names or names != sorted(set(names)):
        return None
    signed = HTTPHeaders()
    for name in names:
        values = received.get_all(name)
        if not values:
            return None
        for value in values:
            signed[name] = value
    return signed


def _url(host: str, path: str, query: str) -> str:
    return f"http://{host}{path}" + (f"?{query}" if query else "")


def from_environment(environ: Mapping[str, str]) -> SigV4Check | None:
    """The check `SIGV4=true` asks for, in AWS_REGION (else ap-south-1); None when SIGV4 is off.

    Read before the runner points AWS_REGION at its emulator: the region is the caller's choice.
    """
    switch = environ.get("SIGV4", "false").strip().lower()
    if switch not in ("true", "false"):
        raise ValueError("SIGV4 must be true or false")
    if switch == "false":
        return None
    return SigV4Check(region=environ.get("AWS_REGION", "").strip() or DEFAULT_REGION)
