"""GET /verifications/{id} and POST /verifications/{id}/cancel: one verification's state, and its end."""

from otp.bootstrap import verification_dependencies
from otp.config import load_settings
from otp.http.app import lambda_entry
from otp.http.verifications import create_app

app = create_app(verification_dependencies(load_settings()))
lambda_handler = lambda_entry(app)
