FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies only: this layer is rebuilt when pyproject.toml changes, not when the code or README does.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY README.md LICENSE ./
COPY emulator ./emulator
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 emulator \
 && mkdir -p /var/lib/report-emulator /etc/report-emulator/scenarios \
 && chown emulator /var/lib/report-emulator
USER emulator

# Every flag is also a variable. State is kept in memory unless EMULATOR_STATE says otherwise; to keep
# it across restarts, mount the volume and set EMULATOR_STATE=sqlite:/var/lib/report-emulator/state.db.
# Scenario files mounted in /etc/report-emulator/scenarios load at start, in name order.
#
# The admin API (/_emulator: credentials, reset, clock, scenarios) and the dashboard are open to anyone
# who reaches the port. Close them (README: "Closing the admin API"):
#   - publish on loopback only:      docker run -p 127.0.0.1:8080:8080 report-emulator
#   - require HTTP Basic on them:    -e EMULATOR_ADMIN_AUTH=user:password   (health and vendor paths stay open)
#   - they answer only to the Host names localhost, loopback and this container's own name and addresses;
#     reached by another name (a compose service, a remote Docker host):  -e EMULATOR_ALLOWED_HOST=emulator
ENV EMULATOR_HOST=0.0.0.0 EMULATOR_PORT=8080 EMULATOR_SCENARIO=/etc/report-emulator/scenarios
VOLUME /var/lib/report-emulator
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('EMULATOR_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/_emulator/health', timeout=2).status == 200 else 1)"]

# Exec form: report-emulator is PID 1 and gets docker stop's SIGTERM; `docker run IMAGE --seed 7` replaces CMD.
ENTRYPOINT ["report-emulator", "serve"]
CMD ["--log-requests"]
