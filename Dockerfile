# syntax=docker/dockerfile:1
# The tcplab image: the wheel (the one `make wheel-smoke` builds and checks) installed with the
# extras the API and the workers need, on Python 3.11 slim. Two stages: `build` makes the wheel
# and a virtualenv; the final stage copies only the virtualenv (no pip cache, no build tools,
# no compiler: the compiled cold path falls back to pure Python, see docs/kubernetes.md).
# Runs as uid 10001; the root filesystem may be read-only (writes go to /tmp and TCPLAB_HOME).
#
# The base image is pinned by digest. No Docker engine runs where this was written: it was
# linted (hadolint, tests/kube/test_dockerfile.py) but never built; the digest was not pulled
# here. Verify it (`docker buildx imagetools inspect python:3.11-slim-bookworm`) and update it
# on each release.
#
#   docker build -t REGISTRY/tcplab/tcplab:0.1.0 .
#   docker build --build-arg EXTRAS=service,postgres,s3,stats,report,llm,ml -t ...:0.1.0-ml .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=service,postgres,s3,stats,report,llm
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "$(ls /dist/tcplab-*.whl)[${EXTRAS}]" \
 && /opt/venv/bin/tcplab --version

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tcplab" \
      org.opencontainers.image.description="tcplab API and workers (tcplab serve / tcplab worker)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 tcplab \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/tcplab --create-home \
      --shell /usr/sbin/nologin tcplab
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/cache \
    TCPLAB_HOME=/var/lib/tcplab
WORKDIR /var/lib/tcplab
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["tcplab"]
CMD ["--help"]
