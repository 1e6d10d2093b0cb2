FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY emulator ./emulator
RUN pip install --no-cache-dir . && useradd --create-home --uid 10001 emulator
USER emulator
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/_emulator/health', timeout=2).status == 200 else 1)"
CMD report-emulator serve --host 0.0.0.0
