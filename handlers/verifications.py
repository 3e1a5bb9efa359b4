"""GET /verifications/{id} and POST /verifications/{id}/cancel: one verification's state, and its end."""

from otp.bootstrap import verification_dependencies
from otp.config import load_settings
from otp.http.app import lambda_entry
from otp.http.verifications import create_app

deps = verification_dependencies(load_settings())
app = create_app(deps)
lambda_handler = lambda_entry(app)
