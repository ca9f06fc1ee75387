# syntax=docker/dockerfile:1
# One image for every Summit service; the service is chosen by argument:
#   docker build -t summit .
#   docker run --rm -p 8000:8000 -e NATS_URL=... -e DATABASE_URL=... summit unified-profile
# Kubernetes passes the name as `args`, compose as `command`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install the contracts and the platform into a virtualenv ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY libs/contracts/ libs/contracts/
COPY pyproject.toml ./
COPY libs/common/ libs/common/
COPY services/ services/
# Regular (non-editable) installs, no dev extras: the wheel carries summit_common, every
# services/<name> package and their migrations (package data). The pip cache is a BuildKit
# cache mount, so dependency downloads survive source changes without bloating the layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install ./libs/contracts . \
 && pip check \
 && python -c "from summit_common.catalog import discover_services; print('services:', ', '.join(discover_services()) or 'none')"

# --- runtime ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SUMMIT_HTTP_HOST=0.0.0.0 \
    SUMMIT_HTTP_PORT=8000
RUN groupadd --system --gid 10001 summit \
 && useradd --system --uid 10001 --gid summit --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin summit
# Same base image and path as the build stage, so the virtualenv works as copied.
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
# Numeric, so Kubernetes' runAsNonRoot can verify it without resolving names.
USER 10001:10001
EXPOSE 8000
# No curl in slim images: probe /healthz with the Python that is already there.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SUMMIT_HTTP_PORT', '8000'), timeout=3)"]
ENTRYPOINT ["summit", "run"]
