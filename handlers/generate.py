"""POST /generate: issue a code and deliver it by SMS or email."""

from otp.bootstrap import generate_dependencies
from otp.config import load_settings
from otp.http.app import lambda_entry
from otp.http.generate import create_app

deps = generate_dependencies(load_settings())
app = create_app(deps)
lambda_handler = lambda_entry(app)
