# evokt's REST service: gunicorn (gthread workers) and the search runner.
#
#   docker build -t evokt .
#   docker run -p 8000:8000 -v evokt-data:/data -e EVOKT_API_TOKEN=change-me evokt
#
# Without EVOKT_API_TOKEN the first start generates a token into /data/api-token
# and says so in the log. Searches, datasets, models and the job store all live
# in the /data volume, so a new container continues where the last one stopped.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system evokt && useradd --system --gid evokt --home-dir /app evokt

WORKDIR /app
COPY pyproject.toml README.md ./
COPY tuner_ext ./tuner_ext
COPY hypermodels ./hypermodels
COPY service ./service
RUN pip install . && mkdir /data && chown evokt:evokt /data

USER evokt
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v2/health/live', timeout=4)"]

# SIGTERM (docker stop) stops gunicorn and the runner cleanly; running searches
# stay RUNNING in the job store and resume on the next start.
STOPSIGNAL SIGTERM
CMD ["evokt", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
