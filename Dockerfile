# syntax=docker/dockerfile:1
#
# Worker image for escalator.
#
#   docker build -t escalator:0.1.0 .
#   docker run --rm escalator:0.1.0 --help
#
# Stage 1 builds wheels for the project and every dependency; stage 2 installs them
# without a compiler, a source tree or a pip cache, and runs as an unprivileged user.
# Bump the base image deliberately (same tag in both stages).

FROM python:3.11.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Only what the package build needs. README.m[d] is a wildcard so a missing README
# does not fail the build (pyproject.toml names it as the long description).
COPY pyproject.toml README.m[d] ./
COPY schemas/ ./schemas/
COPY workers/ ./workers/

# The rocksdb extra (rocksdict, a self-contained binary wheel) backs ESCALATOR_STORE=rocksdb://.
RUN pip wheel --wheel-dir /wheels ".[rocksdb]"


FROM python:3.11.11-slim-bookworm AS runtime

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Fixed numeric ids, so orchestrators can verify "runAsNonRoot" and volume owners are stable.
RUN groupadd --system --gid 10001 escalator \
    && useradd --system --uid 10001 --gid escalator \
        --home-dir /var/lib/escalator --no-create-home --shell /usr/sbin/nologin escalator \
    && install -d -o escalator -g escalator -m 0750 /var/lib/escalator

# The wheels are bind-mounted from the build stage, so they never become an image layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels "escalator[rocksdb]"

# The Faust web server must be reachable from outside the container for probes and for
# /metrics; everything else comes from the environment (see workers/settings.py). The data
# directory holds the RocksDB store when ESCALATOR_STORE=rocksdb:// (give it a volume).
ENV ESCALATOR_WEB_HOST=0.0.0.0 \
    ESCALATOR_WEB_PORT=6066 \
    ESCALATOR_DATA_DIR=/var/lib/escalator

WORKDIR /var/lib/escalator
USER 10001:10001

EXPOSE 6066

# Liveness (/health: the process and its event loop answer), not readiness (/ready is 503
# during every rebalance, which is no reason to restart). The first start joins the consumer
# group and recovers tables, hence the long start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ESCALATOR_WEB_PORT', '6066') + '/health', timeout=4).read()"]

ENTRYPOINT ["escalator"]
CMD ["worker"]
