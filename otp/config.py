"""Settings: every OTP_* variable, parsed and validated once at cold start.

No postponed annotations here: pydantic would compile each field's annotation text at every cold start.
"""

import contextlib
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Self

import annotated_types
import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, InstanceOf, ValidationError, field_validator, model_validator

from otp.domain.errors import ConfigurationError
from otp.domain.pumping_rules import SETTING_NAMES as PUMPING_SETTINGS
from otp.domain.pumping_rules import PumpingRules, parse_rules

# A cheap shape check at cold start: one @, a dotted domain, printable ASCII, no spaces. The full
# RFC check (email_validator, about 40 ms to import) runs in sender_problem(), which the local
# runner and `make package` call; SES itself refuses a sender it has not verified.
_SENDER_SHAPE = re.compile(r"^[!-?A-~]{1,64}@(?=.{1,253}$)[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
# A host name the browser will match against the page's origin: lower-case labels, at least one dot.
_HOSTNAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$")
_BRAND = re.compile(r"^[^\x00-\x1f\x7f]{1,40}$")
# Ids, ARNs and names of End User Messaging resources: printable, no spaces.
_AWS_ID = r"^[A-Za-z0-9_:/.+=@-]{1,256}$"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

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
    max_failures_per_destination: Annotated[int, Field(alias="OTP_MAX_FAILURES_PER_DESTINATION", ge=1, le=100)] = 30
    # Unset: 10, or OTP_MAX_FAILURES_PER_DESTINATION when that is lower (the contract's default).
    max_failures_per_network: Annotated[int, Field(alias="OTP_MAX_FAILURES_PER_NETWORK", ge=1, le=100)] = 10
    failure_window_seconds: Annotated[int, Field(alias="OTP_FAILURE_WINDOW_SECONDS", ge=60, le=604800)] = 86400
    # Origins browsers may call open routes from; with open routes and none, any Origin is refused.
    cors_origins: Annotated[frozenset[str], Field(alias="OTP_CORS_ORIGINS")] = frozenset()
    # Semantics 16: destination identity -> fixed code, until test_destinations_valid_until.
    test_destinations: Annotated[dict[str, str], Field(alias="OTP_TEST_DESTINATIONS")] = {}
    test_destinations_valid_until: Annotated[datetime | None, Field(alias="OTP_TEST_DESTINATIONS_VALID_UNTIL")] = None
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
    # Which AWS API delivers each phone channel (contract: OTP_SMS_PROVIDER, OTP_VOICE_*, OTP_WHATSAPP_*).
    sms_provider: Annotated[Literal["sns", "eum", "notify"], Field(alias="OTP_SMS_PROVIDER")] = "sns"
    sms_origination_identity: Annotated[str | None, Field(alias="OTP_SMS_ORIGINATION_IDENTITY", pattern=_AWS_ID)] = None
    sms_protect_configuration_id: Annotated[
        str | None, Field(alias="OTP_SMS_PROTECT_CONFIGURATION_ID", pattern=_AWS_ID)
    ] = None
    sms_configuration_set: Annotated[str | None, Field(alias="OTP_SMS_CONFIGURATION_SET", pattern=_AWS_ID)] = None
    sms_feedback: Annotated[bool, Field(alias="OTP_SMS_FEEDBACK")] = True
    notify_configuration_id: Annotated[str | None, Field(alias="OTP_NOTIFY_CONFIGURATION_ID", pattern=_AWS_ID)] = None
    notify_template_id: Annotated[str | None, Field(alias="OTP_NOTIFY_TEMPLATE_ID", pattern=_AWS_ID)] = None
    voice_provider: Annotated[Literal["eum", "notify"] | None, Field(alias="OTP_VOICE_PROVIDER")] = None
    voice_origination_identity: Annotated[
        str | None, Field(alias="OTP_VOICE_ORIGINATION_IDENTITY", pattern=_AWS_ID)
    ] = None
    whatsapp_phone_number_id: Annotated[str | None, Field(alias="OTP_WHATSAPP_PHONE_NUMBER_ID", pattern=_AWS_ID)] = None
    whatsapp_template: Annotated[str, Field(alias="OTP_WHATSAPP_TEMPLATE", pattern=r"^[a-z0-9_]{1,512}$")] = "otp_code"
    whatsapp_languages: Annotated[tuple[str, ...], Field(alias="OTP_WHATSAPP_LANGUAGES")] = ("en_US",)
    whatsapp_meta_api_version: Annotated[
        str, Field(alias="OTP_WHATSAPP_META_API_VERSION", pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")
    ] = "v20.0"
    ses_configuration_set: Annotated[
        str | None, Field(alias="OTP_SES_CONFIGURATION_SET", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    ] = None
    # Semantics 14, from the OTP_FRAUD_* variables (parsed by the guard's own rules in load_settings).
    # Parsed by load_settings itself (parse_rules): checked by type only, so no schema is built for it.
    pumping: InstanceOf[PumpingRules] = Field(default_factory=PumpingRules)

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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = [part.strip() for part in value.split(",") if part.strip()]
        bad = [origin for origin in origins if not _ORIGIN.match(origin)]
        if bad:
            raise ValueError(f"must be comma-separated origins such as https://app.example.com, not {bad[0]}")
        return frozenset(origins)

    @field_validator("whatsapp_languages", mode="before")
    @classmethod
    def _parse_languages(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        codes = tuple(part.strip() for part in value.split(",") if part.strip())
        if not codes or not all(re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", code) for code in codes):
            raise ValueError("must be comma-separated WhatsApp language codes, such as en_US,pt_BR,hi")
        return codes

    @field_validator("test_destinations", mode="before")
    @classmethod
    def _parse_test_destinations(cls, value: object) -> object:
        from otp.domain.test_destinations import parse_entries

        return parse_entries(value) if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _network_bound_defaults_below_the_destination_bound(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "OTP_MAX_FAILURES_PER_NETWORK" not in raw:
            with contextlib.suppress(TypeError, ValueError):
                destination = int(raw.get("OTP_MAX_FAILURES_PER_DESTINATION", 30))
                return {**raw, "OTP_MAX_FAILURES_PER_NETWORK": str(max(1, min(10, destination)))}
        return raw

    @model_validator(mode="after")
    def _check_failure_and_test_settings(self) -> Self:
        if self.max_failures_per_network > self.max_failures_per_destination:
            raise ValueError("OTP_MAX_FAILURES_PER_NETWORK: must be 1 to OTP_MAX_FAILURES_PER_DESTINATION")
        from otp.domain.test_destinations import check_test_settings

        check_test_settings(self.test_destinations, self.test_destinations_valid_until, self.code_length)
        if "notify" in (self.sms_provider, self.voice_provider) and self.notify_configuration_id is None:
            raise ValueError("OTP_NOTIFY_CONFIGURATION_ID: is required by the notify provider")
        if self.voice_provider == "eum" and self.voice_origination_identity is None:
            raise ValueError("OTP_VOICE_ORIGINATION_IDENTITY: is required by the eum voice provider")
        return self

    def channel_enabled(self, channel: str) -> bool:
        """sms always; voice and whatsapp once their provider is set; email once it has a sender."""
        enabled = {
            "sms": True,
            "voice": self.voice_provider is not None,
            "whatsapp": self.whatsapp_phone_number_id is not None,
            "email": self.email_sender is not None,
        }
        return enabled.get(channel, False)

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
    """Read the OTP_* variables; an empty variable counts as unset, and an unknown name is an error.

    Raises ConfigurationError whose message names every bad variable.
    """
    env = os.environ if environ is None else environ
    aliases = [field.alias for field in Settings.model_fields.values() if field.alias]
    known = {*aliases, *PUMPING_SETTINGS}
    problems = [_unknown(name, sorted(known)) for name in sorted(env) if name.startswith("OTP_") and name not in known]
    raw = {alias: env[alias] for alias in aliases if env.get(alias, "").strip() != ""}
    settings = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems += [_problem(error) for error in exc.errors(include_url=False, include_input=False)]
    try:
        pumping = parse_rules(env)
    except ValueError as exc:
        problems.append(str(exc))
    else:
        if settings is not None:
            settings = settings.model_copy(update={"pumping": pumping})
    if settings is not None and require_kms_key:
        if settings.kms_key_id is None:
            problems.append("OTP_KMS_KEY_ID: is required (a KMS key id, ARN or alias)")
        if settings.digest_key_id is None:
            problems.append("OTP_DIGEST_KEY_ID: is required (a KMS HMAC_256 key id, ARN or alias)")
    if problems or settings is None:
        raise ConfigurationError("invalid configuration: " + "; ".join(problems))
    return settings


def _unknown(name: str, aliases: list[str]) -> str:
    """A misspelled setting would otherwise be ignored in silence, and its default used instead."""
    import difflib  # only for a misspelled name

    close = [alias for alias in aliases if alias.startswith(name + "_")] or difflib.get_close_matches(name, aliases, 1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{name}: is not a setting of this service{hint}"


def _problem(error: Any) -> str:
    location = error["loc"][0] if error["loc"] else None
    by_alias = {field.alias: field for field in Settings.model_fields.values()}
    field = by_alias.get(str(location)) or Settings.model_fields.get(str(location))
    alias = field.alias if field is not None and field.alias else str(location or "configuration")
    if field is not None and str(error["type"]).startswith(("int_", "greater_than", "less_than")):
        low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
        if low is not None and high is not None:
            return f"{alias}: must be {low} to {high}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if ": " in message and message.split(": ", 1)[0].startswith("OTP_"):
        return message  # a rule across settings names its own variable
    return f"{alias}: {message}"
