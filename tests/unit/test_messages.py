from otp.messages import email_message, sms_text, validity_phrase


def test_validity_is_said_in_minutes_or_seconds():
    assert validity_phrase(300) == "5 minutes"
    assert validity_phrase(61) == "2 minutes"
    assert validity_phrase(60) == "1 minute"
    assert validity_phrase(2) == "2 seconds"


def test_sms_names_brand_code_and_validity():
    text = sms_text("123456", "Acme", 600)
    assert text.startswith("123456 ")
    assert "Acme" in text and "10 minutes" in text


def test_email_has_subject_text_and_html_naming_brand_and_validity():
    message = email_message("654321", "Acme <Bank>", 300)
    assert "Acme <Bank>" in message.subject
    assert "654321" in message.text and "Acme <Bank>" in message.text and "5 minutes" in message.text
    assert "654321" in message.html and "Acme &lt;Bank&gt;" in message.html and "5 minutes" in message.html
