# The workspace image every service image builds on: Python 3.11, uv, the locked dependencies, and the UI's
# chart library (Apache ECharts from the npm registry, pinned by services/workflow/ui-assets/package-lock.json).
FROM node:20-slim AS ui-assets
WORKDIR /ui
COPY services/workflow/ui-assets/package.json services/workflow/ui-assets/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY policy ./policy
COPY --from=ui-assets /ui/node_modules/echarts/dist/echarts.min.js services/workflow/src/safetynet_workflow/ui/static/vendor/
RUN uv sync --all-packages --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
