# The fundwatch project image for docker-compose.yml: Airflow 3.3.2 (CeleryExecutor, PostgreSQL,
# Redis), dbt-duckdb, Great Expectations and the review page, exactly as pinned in requirements.lock
# (the runtime lock, every file's hash checked; the development lock is not installed here).
# Official python image at a pinned tag; the repo is installed editable at /opt/fundwatch because
# fundwatch/paths.py finds dags/ and dbt_project/ beside the package.
FROM python:3.11.14-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    FUNDWATCH_HOME=/data/home \
    FUNDWATCH_INBOX=/data/inbox \
    TZ=Asia/Shanghai

RUN groupadd --gid 50000 fundwatch \
    && useradd --uid 50000 --gid fundwatch --home-dir /home/fundwatch --create-home fundwatch

WORKDIR /opt/fundwatch

# Dependencies first (cached while only the code changes).
COPY requirements.lock pyproject.toml ./
RUN pip install --require-hashes -r requirements.lock

COPY . .
# Empty folders owned by the service user: Docker copies them into new named volumes.
RUN pip install --no-deps --no-build-isolation -e . \
    && mkdir -p /data/inbox /data/home/out /data/home/docs/dbt /data/home/docs/gx \
                /opt/airflow/logs /opt/airflow/auth \
    && chown -R fundwatch:fundwatch /data /opt/airflow /opt/fundwatch/dbt_project

USER fundwatch
CMD ["fundwatch", "--help"]
