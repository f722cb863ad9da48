# The workspace image every service image builds on: Python 3.11, uv, the locked dependencies.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY policy ./policy
RUN uv sync --all-packages --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
