"""Settings: every OTP_* variable, parsed and validated once at cold start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from otp.domain.errors import ConfigurationError

# A cheap shape check at cold start: one @, a dotted domain, printable ASCII, no spaces. The full
# RFC check (email_validator, about 40 ms to import) runs in sender_problem(), which the local
# runner and `make package` call; SES itself refuses a sender it has not verified.
_SENDER_SHAPE = re.compile(r"^[!-?A-~]{1,64}@(?=.{1,253}$)[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
# A host name the browser will match against the page's origin: lower-case labels, at least one dot.
_HOSTNAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
_BRAND = re.compile(r"^[^\x00-\x1f\x7f]{1,40}$")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    table_name: Annotated[str, Field(alias="OTP_TABLE_NAME", pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = "otp_main"
    kms_key_id: Annotated[str | None, Field(alias="OTP_KMS_KEY_ID", min_length=1, max_length=2048)] = None
    # A KMS HMAC key; the secret that keys every destination and IP digest is derived from it.
    digest_key_id: Annotated[str | None, Field(alias="OTP_DIGEST_KEY_ID", min_length=1, max_length=2048)] = None
    code_length: Annotated[int, Field(alias="OTP_CODE_LENGTH", ge=4, le=10)] = 6
    ttl_seconds: Annotated[int, Field(alias="OTP_TTL_SECONDS", ge=1, le=3600)] = 300
    max_attempts: Annotated[int, Field(alias="OTP_MAX_ATTEMPTS", ge=1, le=10)] = 5
    resend_cooldown_seconds: Annotated[int, Field(alias="OTP_RESEND_COOLDOWN_SECONDS", ge=0, le=86400)] = 30
    max_sends_per_window: Annotated[int, Field(alias="OTP_MAX_SENDS_PER_WINDOW", ge=0, le=1000)] = 5
    send_window_seconds: Annotated[int, Field(alias="OTP_SEND_WINDOW_SECONDS", ge=1, le=604800)] = 900
    max_sends_per_ip: Annotated[int, Field(alias="OTP_MAX_SENDS_PER_IP", ge=0, le=100000)] = 50
    max_failures_per_destination: Annotated[int, Field(alias="OTP_MAX_FAILURES_PER_DESTINATION", ge=1, le=100)] = 20
    failure_window_seconds: Annotated[int, Field(alias="OTP_FAILURE_WINDOW_SECONDS", ge=60, le=604800)] = 86400
    require_verification_id: Annotated[bool, Field(alias="OTP_REQUIRE_VERIFICATION_ID")] = False
    # None means every country; otherwise ISO 3166 alpha-2 region codes.
    sms_allowed_countries: Annotated[frozenset[str] | None, Field(alias="OTP_SMS_ALLOWED_COUNTRIES")] = None
    email_sender: Annotated[str | None, Field(alias="OTP_EMAIL_SENDER", max_length=320)] = None
    brand_name: Annotated[str, Field(alias="OTP_BRAND_NAME")] = "OTP Service"
    sms_sender_id: Annotated[str | None, Field(alias="OTP_SMS_SENDER_ID")] = None
    default_locale: Annotated[str, Field(alias="OTP_DEFAULT_LOCALE")] = "en"
    sms_template: Annotated[str | None, Field(alias="OTP_SMS_TEMPLATE", max_length=640)] = None
    webotp_domain: Annotated[str | None, Field(alias="OTP_WEBOTP_DOMAIN", pattern=_HOSTNAME, max_length=253)] = None
    android_app_hash: Annotated[str | None, Field(alias="OTP_ANDROID_APP_HASH", pattern=r"^[A-Za-z0-9+/]{11}$")] = None
    sms_max_price: Annotated[str | None, Field(alias="OTP_SMS_MAX_PRICE", pattern=r"^[0-9]{1,4}(\.[0-9]{1,5})?$")] = (
        None
    )
    sms_entity_id: Annotated[str | None, Field(alias="OTP_SMS_ENTITY_ID", pattern=r"^[0-9A-Za-z]{1,40}$")] = None
    sms_template_id: Annotated[str | None, Field(alias="OTP_SMS_TEMPLATE_ID", pattern=r"^[0-9A-Za-z]{1,40}$")] = None
    ses_configuration_set: Annotated[
        str | None, Field(alias="OTP_SES_CONFIGURATION_SET", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    ] = None

    @field_validator("sms_allowed_countries", mode="before")
    @classmethod
    def _parse_countries(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text == "*":
            return None
        codes = [part.strip().upper() for part in text.split(",") if part.strip()]
        if not codes:
            raise ValueError("give '*' or a comma-separated list of ISO 3166 alpha-2 codes")
        unknown = sorted(c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"unknown region code(s): {', '.join(unknown)}")
        return frozenset(codes)

    @field_validator("email_sender")
    @classmethod
    def _check_sender(cls, value: str | None) -> str | None:
        if value is not None and not _SENDER_SHAPE.match(value):
            raise ValueError("not a valid email address (name@domain.tld, ASCII only)")
        return value

    @field_validator("brand_name")
    @classmethod
    def _check_brand(cls, value: str) -> str:
        if not _BRAND.match(value):
            raise ValueError("must be 1 to 40 printable characters")
        return value

    @field_validator("default_locale")
    @classmethod
    def _a_built_in_language(cls, value: str) -> str:
        from otp.messages import catalog

        if value not in catalog():
            raise ValueError(f"has no message file; built in: {', '.join(sorted(catalog()))}")
        return value

    @field_validator("sms_template")
    @classmethod
    def _a_usable_template(cls, value: str | None) -> str | None:
        from otp.messages import template_problem

        problem = template_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("sms_sender_id")
    @classmethod
    def _check_sender_id(cls, value: str | None) -> str | None:
        if value is not None and not _SENDER_ID.match(value):
            raise ValueError("must be 1 to 11 letters or digits, with at least one letter")
        return value

    @property
    def email_enabled(self) -> bool:
        return self.email_sender is not None


def sender_problem(sender: str) -> str | None:
    """The full check of OTP_EMAIL_SENDER, for the runner and for packaging; None when it is valid."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(sender, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return f"OTP_EMAIL_SENDER: not a valid email address: {exc}"
    return None


def load_settings(environ: Mapping[str, str] | None = None, *, require_kms_key: bool = True) -> Settings:
    """Read the OTP_* variables; an empty variable counts as unset.

    Raises ConfigurationError whose message names every bad variable.
    """
    env = os.environ if environ is None else environ
    raw = {
        field.alias: env[field.alias]
        for field in Settings.model_fields.values()
        if field.alias and env.get(field.alias, "").strip() != ""
    }
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            alias = error["loc"][0] if error["loc"] else "configuration"
            problems.append(f"{alias}: {error['msg']}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None
    if require_kms_key and settings.kms_key_id is None:
        raise ConfigurationError("invalid configuration: OTP_KMS_KEY_ID: is required (a KMS key id, ARN or alias)")
    if require_kms_key and settings.digest_key_id is None:
        raise ConfigurationError(
            "invalid configuration: OTP_DIGEST_KEY_ID: is required (a KMS HMAC_256 key id, ARN or alias)"
        )
    return settings
