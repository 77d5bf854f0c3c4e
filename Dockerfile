# The console's browser assets (a charting library), as package-lock.json pins them.
FROM node:20-bookworm-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CAMTRACK_DATA_DIR=/data CAMTRACK_WEB_BIND=0.0.0.0:8000
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzbar0 procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/production.txt
COPY . .
COPY --from=assets /assets/node_modules node_modules
RUN useradd --system --uid 1000 camtrack && mkdir -p /data /tmp/camtrack-metrics && chown camtrack /data /tmp/camtrack-metrics
USER camtrack
RUN SECRET_KEY=build python manage.py collectstatic --noinput -v 0
EXPOSE 8000 5555
# Any Procfile process: docker run camtrack scripts/proc NAME (docker-compose.yml runs them all).
CMD ["scripts/proc", "web"]
