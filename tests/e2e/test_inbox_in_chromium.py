"""/_local/inbox in a real headless Chromium at phone size: newest first, grouped, live, offline."""

from __future__ import annotations

import re
import time

import requests

from tests.e2e.test_pages_in_chromium import PHONE, devtools, pytestmark  # noqa: F401 (skips without Chromium)

# The cards as the page shows them: per destination, its messages top to bottom.
SHOWN = """[...document.querySelectorAll("section.destination")].map(section => ({
  destination: section.querySelector("h2").textContent,
  messages: [...section.querySelectorAll("article")].map(card => ({
    channel: card.querySelector(".channel").textContent,
    code: card.querySelector(".code") && card.querySelector(".code").textContent,
    subject: card.querySelector(".subject") && card.querySelector(".subject").textContent,
    text: card.querySelector(".text").textContent,
    time: card.querySelector("time").dateTime,
  })),
}))"""


# Where the first (newest) code lies, and whether it is what the eye sees at its centre.
def outbox_reads(runner) -> int:
    return sum(1 for line in runner.logs().splitlines() if '"path": "/_local/outbox"' in line)


def first_code_is(code: str) -> str:
    return f"document.querySelector('.code') && document.querySelector('.code').textContent === '{code}'"


NEWEST_CODE_BOX = """(() => {
  const code = document.querySelector(".code");
  const box = code.getBoundingClientRect();
  const seen = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return {top: box.top, bottom: box.bottom, left: box.left, right: box.right, height: box.height,
          onTop: seen === code || code.contains(seen), text: code.textContent};
})()"""


def test_the_inbox_page_is_offline_and_locked_down(runner):
    reply = requests.get(runner.url + "/_local/inbox", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in reply.text
    assert not re.findall(r"""(?:src|href)=["']""", reply.text)  # no asset at all, local or remote
    policy = reply.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    foreign = requests.get(runner.url + "/_local/inbox", headers={"Host": "attacker.example"}, timeout=10)
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden_host"


def test_the_inbox_shows_the_newest_code_first_and_visible_at_phone_width(runner, tmp_path):
    _, older = runner.generate("+33612345678", purpose="inbox")
    _, hindi = runner.generate("+919876543210", purpose="inbox", locale="hi")
    runner.generate("inbox@example.org", channel="email", purpose="inbox", locale="fr")
    _, newest = runner.generate("+33612345678", purpose="inbox-again")
    with devtools(tmp_path / "profile") as browser:
        browser.open(runner.url + "/_local/inbox", *PHONE)
        browser.wait_for(
            f"document.querySelector('.code') && document.querySelector('.code').textContent === '{newest}'"
        )
        screenshot = tmp_path / "inbox-390x844.png"
        browser.screenshot(screenshot)
        box = browser.evaluate(NEWEST_CODE_BOX)
        assert box["text"] == newest
        assert box["top"] >= 0 and box["bottom"] <= PHONE[1], box  # above the fold, no scrolling
        assert box["left"] >= 0 and box["right"] <= PHONE[0], box
        assert box["onTop"], "something covers the newest code"
        assert box["height"] >= 30, "the code is not shown large"
        assert browser.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        shown = browser.evaluate(SHOWN)
        french, email, indian = shown[0], shown[1], shown[2]
        assert french["destination"] == "+33612345678"
        assert [m["code"] for m in french["messages"][:2]] == [newest, older]  # newest first within the group
        assert email["destination"] == "inbox@example.org" and email["messages"][0]["channel"] == "EMAIL"
        assert "vérification" in email["messages"][0]["subject"] + email["messages"][0]["text"]
        assert indian["messages"][0]["code"] == hindi and "कोड" in indian["messages"][0]["text"]
        assert len({s["destination"] for s in shown}) == len(shown)  # one group per destination
    assert screenshot.stat().st_size > 10_000
    print(f"inbox screenshot: {screenshot}")


def test_the_inbox_refreshes_by_itself_and_copies_the_code(runner, tmp_path):
    with devtools(tmp_path / "profile") as browser:
        browser.open(runner.url + "/_local/inbox", *PHONE)
        browser.wait_for("document.getElementById('status').textContent.includes('live')")
        polls = outbox_reads(runner)
        time.sleep(4)
        assert outbox_reads(runner) - polls <= 1, "an idle inbox should wait on the outbox, not poll it"
        _, code = runner.generate("+61491570156", purpose="live")  # after the page loaded: no reload
        browser.wait_for(first_code_is(code))
        origin = runner.url
        browser.call("Browser.grantPermissions", origin=origin, permissions=["clipboardReadWrite"])
        browser.evaluate("document.querySelector('button.copy').click()")
        browser.wait_for("document.querySelector('button.copy').textContent === 'Copied'")
        assert browser.evaluate("navigator.clipboard.readText()") == code
