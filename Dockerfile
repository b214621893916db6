# Punchgate: the gateway (gunicorn) or the outbox worker, one image for both.
#   docker build -t punchgate .
#   docker run --env-file punchgate.env -p 8000:8000 punchgate
# The build stage installs into a virtualenv; the final stage copies only that
# virtualenv: no compiler, no pip cache, no source tree beyond what runs.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/punchgate
COPY pyproject.toml README.md LICENSE /src/
COPY gateway /src/gateway
COPY provisioning /src/provisioning
RUN /opt/punchgate/bin/pip install /src

FROM python:3.12-slim
ENV PATH=/opt/punchgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PUNCHGATE_BIND=0.0.0.0:8000 \
    PUNCHGATE_INSTANCE_DIR=/var/lib/punchgate
RUN useradd --system --uid 10001 --home-dir /var/lib/punchgate --create-home punchgate
COPY --from=build /opt/punchgate /opt/punchgate
WORKDIR /app
COPY gunicorn.conf.py wsgi.py /app/
USER punchgate
EXPOSE 8000
# Ready means: the process answers, the database too, and its schema is this version's.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
