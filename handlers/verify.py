"""POST /verify: check a submitted code once, before it expires, within the attempt limits."""

from otp.bootstrap import verify_dependencies
from otp.config import load_settings
from otp.http.app import lambda_entry
from otp.http.verify import create_app

deps = verify_dependencies(load_settings())
app = create_app(deps)
lambda_handler = lambda_entry(app)
