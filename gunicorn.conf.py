"""gunicorn's settings for the web process; gunicorn reads this file from its working directory.

The command line (Dockerfile, docker-compose.yml) still chooses the address and the worker count.
"""

# The access log names every path, and some paths carry a secret (itsm/redaction.py).
logger_class = "itsm.access_log.AccessLogger"
accesslog = "-"
