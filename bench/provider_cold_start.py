"""Cold start of generate per delivery provider, and the AWS calls of one warm /generate with each.

The same fresh-process measurement as "Cold start" (bench/cold_start.py), with the settings of each
provider on top; the floor creates that configuration's clients (bench/first_request.py). The
embedded emulator answers End User Messaging and Social as it does for `make run`.
"""

from __future__ import annotations

from bench.children import first_request
from bench.context import DESTINATION, LIMITS_OFF, Bench
from bench.figures import median, percentile, table
from bench.report import Section, prose
from bench.service import SERVICES, captured_output, load_handlers, recording_calls

_EUM_NUMBER = "arn:aws:sms-voice:ap-south-1:000000000000:phone-number/phone-0123456789abcdef"
# name -> (the floor's client set, settings, the channel of the request)
PROVIDERS: dict[str, tuple[str, dict[str, str], str]] = {
    "sns": ("generate", {}, "sms"),
    "eum": ("generate-eum", {"OTP_SMS_PROVIDER": "eum", "OTP_SMS_ORIGINATION_IDENTITY": _EUM_NUMBER}, "sms"),
    "notify": ("generate-notify", {"OTP_SMS_PROVIDER": "notify", "OTP_NOTIFY_CONFIGURATION_ID": "nc-bench"}, "sms"),
    "whatsapp": (
        "generate-whatsapp",
        {"OTP_WHATSAPP_PHONE_NUMBER_ID": "phone-number-id-0123456789abcdef0123456789abcdef"},
        "whatsapp",
    ),
}
MESSAGING = ("pinpoint-sms-voice-v2", "socialmessaging")


def measure(bench: Bench) -> Section:
    runs = bench.samples(full=8, quick=1)
    handler_ms: dict[str, list[float]] = {name: [] for name in PROVIDERS}
    floor_ms: dict[str, list[float]] = {name: [] for name in PROVIDERS}
    created: dict[str, set[str]] = {name: set() for name in PROVIDERS}
    for run in range(runs):  # the providers take turns, so that a busy moment does not fall on one
        for name, (floor, settings, channel) in PROVIDERS.items():
            body = {"channel": channel, "destination": DESTINATION, "purpose": f"cold-{name}-{run}"}
            sample = first_request(bench, "handler", "generate", body, settings=settings)
            if sample.status != 201:
                raise RuntimeError(f"a cold generate with {name} answered {sample.status}")
            handler_ms[name].append(sample.ms)
            created[name].add(", ".join(sample.clients))
            floor_ms[name].append(first_request(bench, "floor", floor, {}).ms)
    calls = warm_calls(bench)
    rows, ratios, clients_of = [], {}, {}
    for name in PROVIDERS:
        [clients_of[name]] = created[name]  # every cold start of one configuration creates the same clients
        ratios[name] = median(handler_ms[name]) / median(floor_ms[name])
        rows.append(
            [
                name,
                f"{median(handler_ms[name]):.0f}",
                f"{percentile(handler_ms[name], 0.9):.0f}",
                f"{median(floor_ms[name]):.0f}",
                f"{ratios[name]:.2f}",
                clients_of[name],
                ", ".join(calls[name]),
            ]
        )
    headers = ["provider", "median ms", "p90 ms", "floor median ms", "ratio", "clients created", "AWS calls, warm"]
    return Section(
        "provider_cold_start",
        "Cold start of generate per provider",
        prose("provider_cold_start", runs=runs, table=table(headers, rows)),
        {"ratio": ratios, "clients": clients_of, "calls": calls},
    )


def warm_calls(bench: Bench) -> dict[str, list[str]]:
    """The AWS calls of the second /generate of each configuration, in order."""
    found = {}
    for name, (_, settings, channel) in PROVIDERS.items():
        handlers = load_handlers(bench.settings({**LIMITS_OFF, **settings}))
        with recording_calls((*SERVICES, *MESSAGING)) as calls, captured_output():
            for purpose in ("warm", "counted"):
                calls.clear()
                body = {"channel": channel, "destination": DESTINATION, "purpose": f"{name}-{purpose}"}
                handlers.generate_code(body).expect(201, f"generate with {name}")
            found[name] = [f"{call.service}:{call.operation}" for call in calls]
    load_handlers(bench.settings(LIMITS_OFF))  # the other sections' configuration again
    return found
