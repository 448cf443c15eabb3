#!/usr/bin/env bash
# The production shape of DocuID on one machine (docs/DEPLOYMENT.md):
#
#   deploy/prod-stack.sh up        # `make prod`: install, configure, release, start, check
#   deploy/prod-stack.sh down      # `make prod-down`: stop every process
#   deploy/prod-stack.sh stop NAME # stop one process (web, ops, worker, beat, nginx, ...)
#   deploy/prod-stack.sh start NAME
#   deploy/prod-stack.sh restart [NAME...]   # default: web ops worker beat, one at a time
#   deploy/prod-stack.sh status
#   deploy/prod-stack.sh manage ARGS...  # manage.py with the stack's environment
#   deploy/prod-stack.sh settings  # the settings the next `up` uses (given now, else remembered)
#
# nginx (TLS) -> gunicorn `web` and `ops`, Celery `worker` and `beat`, Prometheus,
# Alertmanager and the node, PostgreSQL and Redis exporters, on the local PostgreSQL
# and Redis (or DATABASE_URL / REDIS_URL). Every process is started by honcho from a
# Procfile: the app's own (./Procfile) and the infrastructure's (deploy/prod/Procfile),
# one honcho per process so that one can be stopped and started on its own. Everything
# lives under the state directory DOCUID_PROD_DIR (default var/prod): generated
# configuration, secrets (made once, kept across runs), the app's var dir, the
# Prometheus and Alertmanager data, logs (log/<process>.log) and pid files.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

PROD_DIR="$(mkdir -p "${DOCUID_PROD_DIR:-$ROOT/var/prod}" && cd "${DOCUID_PROD_DIR:-$ROOT/var/prod}" && pwd)"

# The settings below (docs/DEPLOYMENT.md, "Settings of make prod") are remembered by every `up`
# in $PROD_DIR/settings.sh, and one not given again (unset or empty) keeps its remembered value:
# a later plain `make prod` (an upgrade) must not move to a new empty database, drop the backup
# replicas given in DOCUID_PROD_EXTRA_ENV, or make a new backup key.
SETTINGS=(
    DATABASE_URL REDIS_URL DOCUID_PROD_HOST DOCUID_TLS_CERT DOCUID_TLS_KEY
    DOCUID_PROD_HTTPS_PORT DOCUID_PROD_HTTP_PORT DOCUID_PROD_WEB_PORT DOCUID_PROD_OPS_PORT
    DOCUID_PROD_WORKER_METRICS_PORT DOCUID_PROD_PROMETHEUS_PORT DOCUID_PROD_ALERTMANAGER_PORT
    DOCUID_PROD_NODE_EXPORTER_PORT DOCUID_PROD_POSTGRES_EXPORTER_PORT DOCUID_PROD_REDIS_EXPORTER_PORT
    DOCUID_BIOMETRIC_PROVIDER DOCUID_ALLOW_SIMULATOR DOCUID_BACKUP_KEY DOCUID_PROD_EXTRA_ENV
    DOCUID_PROD_RULES EMAIL_BACKEND
)
SETTINGS_FILE="$PROD_DIR/settings.sh"
if [ -s "$SETTINGS_FILE" ]; then
    # shellcheck source=/dev/null
    . <(sed -n 's/^\([A-Z_]*\)=/remembered_\1=/p' "$SETTINGS_FILE")
    for name in "${SETTINGS[@]}"; do
        remembered="remembered_$name"
        if [ -z "${!name:-}" ] && [ -n "${!remembered:-}" ]; then
            printf -v "$name" %s "${!remembered}"
            export "${name?}"
        fi
    done
fi

print_settings() {  # the settings given (or remembered), as $SETTINGS_FILE keeps them
    echo "# Written by deploy/prod-stack.sh up: the settings of this stack, reused by the next up."
    for name in "${SETTINGS[@]}"; do
        if [ -n "${!name:-}" ]; then printf '%s=%q\n' "$name" "${!name}"; fi
    done
}
HOST="${DOCUID_PROD_HOST:-localhost}"
HTTPS_PORT="${DOCUID_PROD_HTTPS_PORT:-8443}"
HTTP_PORT="${DOCUID_PROD_HTTP_PORT:-8080}"
WEB_PORT="${DOCUID_PROD_WEB_PORT:-8000}"
OPS_PORT="${DOCUID_PROD_OPS_PORT:-8001}"
WORKER_METRICS_PORT="${DOCUID_PROD_WORKER_METRICS_PORT:-9808}"
PROMETHEUS_PORT="${DOCUID_PROD_PROMETHEUS_PORT:-9090}"
ALERTMANAGER_PORT="${DOCUID_PROD_ALERTMANAGER_PORT:-9093}"
NODE_EXPORTER_PORT="${DOCUID_PROD_NODE_EXPORTER_PORT:-9100}"
POSTGRES_EXPORTER_PORT="${DOCUID_PROD_POSTGRES_EXPORTER_PORT:-9187}"
REDIS_EXPORTER_PORT="${DOCUID_PROD_REDIS_EXPORTER_PORT:-9121}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/docuid_prod}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
SITE_URL="https://$HOST$([ "$HTTPS_PORT" = 443 ] || echo ":$HTTPS_PORT")"

VENV_BIN="$ROOT/.venv/bin"
HONCHO="$VENV_BIN/honcho"
VAR_DIR="$PROD_DIR/var"
ENV_FILE="$PROD_DIR/docuid.env"
INFRA_ENV_FILE="$PROD_DIR/infra.env"
SECRETS="$PROD_DIR/secrets"
LOG_DIR="$PROD_DIR/log"
RUN_DIR="$PROD_DIR/run"
APP_PROCESSES=(web ops worker beat)
INFRA_PROCESSES=(nginx prometheus alertmanager node_exporter postgres_exporter redis_exporter)

say() { printf '  %s\n' "$*"; }

# --- configuration ------------------------------------------------------------------

secret() {  # secret NAME COMMAND...: made once, kept in $SECRETS/NAME (0600)
    local file="$SECRETS/$1"
    shift
    if [ ! -s "$file" ]; then
        (umask 077 && "$@" >"$file.tmp" && mv "$file.tmp" "$file")
    fi
    cat "$file"
}

write_env() {
    mkdir -p "$SECRETS" "$VAR_DIR" "$LOG_DIR" "$RUN_DIR"
    chmod 700 "$SECRETS"
    local secret_key backup_key webhook_token
    secret_key="$(secret secret_key "$VENV_BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')"
    backup_key="${DOCUID_BACKUP_KEY:-$(secret backup_key "$VENV_BIN/python" -m operations.crypto genkey)}"
    webhook_token="$(secret alertmanager_webhook_token "$VENV_BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')"
    # Alertmanager reads the token from a file, without the newline.
    printf %s "$webhook_token" >"$SECRETS/alertmanager_webhook_token.bare"
    chmod 600 "$SECRETS/alertmanager_webhook_token.bare"
    # Values are plain words (honcho's .env parser splits on blanks and drops quotes).
    (
        umask 077
        cat >"$ENV_FILE.tmp" <<EOF
# Generated by deploy/prod-stack.sh for the local production stack; rewritten by every \`up\`.
DEBUG=0
SECRET_KEY=$secret_key
ALLOWED_HOSTS=$HOST
CSRF_TRUSTED_ORIGINS=$SITE_URL
DOCUID_SITE_URL=$SITE_URL
DOCUID_VAR_DIR=$VAR_DIR
DATABASE_URL=$DATABASE_URL
REDIS_URL=$REDIS_URL
DOCUID_BACKUP_KEY=$backup_key
DOCUID_BEHIND_PROXY=1
DOCUID_X_ACCEL_REDIRECT_PREFIX=/protected-media/
DOCUID_ALERTMANAGER_WEBHOOK_TOKEN=$webhook_token
METRICS_ALLOWED_IPS=127.0.0.1,::1
GUNICORN_BIND=127.0.0.1:$WEB_PORT
DOCUID_OPS_BIND=127.0.0.1:$OPS_PORT
CELERY_WORKER_METRICS_PORT=$WORKER_METRICS_PORT
DOCUID_LOG_FORMAT=json
EMAIL_BACKEND=${EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}
DOCUID_BIOMETRIC_PROVIDER=${DOCUID_BIOMETRIC_PROVIDER:-webauthn}
DOCUID_ALLOW_SIMULATOR=${DOCUID_ALLOW_SIMULATOR:-0}
PATH=$VENV_BIN:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
EOF
        if [ -n "${DOCUID_PROD_EXTRA_ENV:-}" ]; then
            # Any further settings, one NAME=value a line (README, Configuration).
            printf '%s\n' "$DOCUID_PROD_EXTRA_ENV" >>"$ENV_FILE.tmp"
        fi
        mv "$ENV_FILE.tmp" "$ENV_FILE"
        cat >"$INFRA_ENV_FILE" <<EOF
DOCUID_PROD_DIR=$PROD_DIR
PROMETHEUS_PORT=$PROMETHEUS_PORT
ALERTMANAGER_PORT=$ALERTMANAGER_PORT
NODE_EXPORTER_PORT=$NODE_EXPORTER_PORT
POSTGRES_EXPORTER_PORT=$POSTGRES_EXPORTER_PORT
REDIS_EXPORTER_PORT=$REDIS_EXPORTER_PORT
DATA_SOURCE_NAME=$(pg_dsn)
REDIS_ADDR=$REDIS_URL
EOF
    )
}

pg_dsn() {  # the exporter wants sslmode spelled out for a local server
    case "$DATABASE_URL" in
    *\?*) echo "$DATABASE_URL" ;;
    *) echo "$DATABASE_URL?sslmode=disable" ;;
    esac
}

make_certificate() {
    mkdir -p "$PROD_DIR/tls"
    if [ -n "${DOCUID_TLS_CERT:-}" ] && [ -n "${DOCUID_TLS_KEY:-}" ]; then
        CERT="$DOCUID_TLS_CERT" KEY="$DOCUID_TLS_KEY"
        return
    fi
    CERT="$PROD_DIR/tls/fullchain.pem" KEY="$PROD_DIR/tls/privkey.pem"
    if [ ! -s "$CERT" ] || ! openssl x509 -in "$CERT" -noout -checkend 86400 >/dev/null 2>&1 \
        || ! openssl x509 -in "$CERT" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$HOST"; then
        say "making a self-signed certificate for $HOST ($CERT)"
        openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$HOST" \
            -addext "subjectAltName=DNS:$HOST,DNS:localhost,IP:127.0.0.1" \
            -keyout "$KEY" -out "$CERT" >/dev/null 2>&1
        chmod 600 "$KEY"
    fi
}

render_nginx() {
    local dir="$PROD_DIR/nginx"
    mkdir -p "$dir/temp"
    # The shipped server blocks, with this stack's ports, names and paths.
    sed -e "s#listen 443 #listen $HTTPS_PORT #; s#listen 80 #listen $HTTP_PORT #; s#listen 80;#listen $HTTP_PORT;#" \
        -e "s#server 127.0.0.1:8000;#server 127.0.0.1:$WEB_PORT;#; s#server 127.0.0.1:8001;#server 127.0.0.1:$OPS_PORT;#" \
        -e "s#server_name docuid.example.com;#server_name $HOST;#" \
        -e "s#https://\$host\$request_uri#https://\$host:$HTTPS_PORT\$request_uri#" \
        -e "s#/etc/ssl/docuid/fullchain.pem#$CERT#; s#/etc/ssl/docuid/privkey.pem#$KEY#" \
        -e "s#/var/lib/docuid/#$VAR_DIR/#g" \
        -e "s#/var/log/nginx/docuid.access.log#$LOG_DIR/nginx-access.log#" \
        deploy/nginx/docuid.conf >"$dir/docuid.conf"
    cat >"$dir/nginx.conf" <<EOF
# Generated by deploy/prod-stack.sh: the main file around deploy/nginx/docuid.conf.
user root;
worker_processes 2;
pid $RUN_DIR/nginx.pid;
error_log $LOG_DIR/nginx-error.log warn;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server_tokens off;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    include $dir/docuid.conf;
}
EOF
    nginx -t -q -e "$LOG_DIR/nginx-error.log" -c "$dir/nginx.conf"
}

render_monitoring() {
    local dir="$PROD_DIR/prometheus" am="$PROD_DIR/alertmanager"
    mkdir -p "$dir/data" "$am/data" "$am/templates"
    sed -e "s#127.0.0.1:8000#127.0.0.1:$WEB_PORT#; s#127.0.0.1:9808#127.0.0.1:$WORKER_METRICS_PORT#" \
        -e "s#127.0.0.1:9093#127.0.0.1:$ALERTMANAGER_PORT#; s#127.0.0.1:9100#127.0.0.1:$NODE_EXPORTER_PORT#" \
        -e "s#127.0.0.1:9187#127.0.0.1:$POSTGRES_EXPORTER_PORT#; s#127.0.0.1:9121#127.0.0.1:$REDIS_EXPORTER_PORT#" \
        deploy/prometheus/prometheus.yml >"$dir/prometheus.yml"
    # DOCUID_PROD_RULES replaces the shipped rules (other timings for a drill, say); runbook links
    # are joined to DOCUID_RUNBOOK_BASE_URL (DOCUID_PROD_EXTRA_ENV) as a deployment does.
    app python manage.py prometheus_rules --rules "${DOCUID_PROD_RULES:-deploy/prometheus/rules.yml}" \
        --out "$dir/rules.yml"
    promtool check config "$dir/prometheus.yml" >/dev/null
    sed -e "s#http://127.0.0.1:8001/#http://127.0.0.1:$OPS_PORT/#" \
        -e "s#credentials_file: /etc/docuid/secrets/alertmanager_webhook_token#credentials_file: $SECRETS/alertmanager_webhook_token.bare#" \
        -e "s#/etc/docuid/secrets/#$SECRETS/#g" \
        deploy/alertmanager/alertmanager.yml >"$am/alertmanager.yml"
    cp deploy/alertmanager/templates/*.tmpl "$am/templates/"
    amtool check-config "$am/alertmanager.yml" >/dev/null
}

create_database() {
    if psql "$DATABASE_URL" -Atqc 'select 1' >/dev/null 2>&1; then
        return
    fi
    local name="${DATABASE_URL##*/}"
    name="${name%%\?*}"
    say "creating database $name"
    psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"$name\"" >/dev/null
}

# --- processes ----------------------------------------------------------------------

is_app() { [[ " ${APP_PROCESSES[*]} " == *" $1 "* ]]; }

running() {
    local pid_file="$RUN_DIR/$1.honcho.pid"
    [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start_one() {
    local name="$1"
    if running "$name"; then
        return
    fi
    local procfile="$ROOT/Procfile" env_file="$ENV_FILE"
    if ! is_app "$name"; then
        procfile="$ROOT/deploy/prod/Procfile" env_file="$INFRA_ENV_FILE"
    fi
    # setsid: its own process group, so `stop` ends honcho and what it started, nothing else.
    setsid "$HONCHO" start -f "$procfile" -d "$ROOT" -e "$env_file" --no-prefix "$name" \
        >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$name.honcho.pid"
}

stop_one() {
    local name="$1" pid_file="$RUN_DIR/$1.honcho.pid"
    [ -s "$pid_file" ] || return 0
    local pid
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        # Still there after 30 s: end its process group (honcho and its children only).
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
}

wait_http() {  # wait_http WHAT URL [curl options...]
    local what="$1" url="$2"
    shift 2
    for _ in $(seq 1 120); do
        if curl -fsS -o /dev/null --max-time 3 "$@" "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    echo "prod-stack: $what did not answer at $url within 60 s; see $LOG_DIR/" >&2
    return 1
}

app() {  # a command in the app's environment, as the Procfile's processes get it
    "$HONCHO" run -d "$ROOT" -e "$ENV_FILE" "$@"
}

up() {
    echo "DocuID production stack in $PROD_DIR"
    bash "$ROOT/deploy/install-prod-tools.sh"
    write_env
    (umask 077 && print_settings >"$SETTINGS_FILE.tmp" && mv "$SETTINGS_FILE.tmp" "$SETTINGS_FILE")
    make_certificate
    render_nginx
    render_monitoring
    create_database
    say "release: migrate, collectstatic, publish the status page"
    "$HONCHO" start -f "$ROOT/Procfile" -d "$ROOT" -e "$ENV_FILE" --no-prefix release >>"$LOG_DIR/release.log" 2>&1 \
        || { tail -n 30 "$LOG_DIR/release.log" >&2; exit 1; }
    if grep -qx "DOCUID_BIOMETRIC_PROVIDER=simulator" "$ENV_FILE"; then
        # A demo (or the CI drill) with the simulator, which check --deploy rightly refuses:
        # every other setting is checked as it is.
        say "check --deploy (with webauthn in place of the demo's simulator)"
        app env DOCUID_BIOMETRIC_PROVIDER=webauthn python manage.py check --deploy --fail-level WARNING
    else
        app python manage.py check --deploy --fail-level WARNING
    fi
    for name in "${APP_PROCESSES[@]}" "${INFRA_PROCESSES[@]}"; do
        start_one "$name"
    done
    wait_http "web" "http://127.0.0.1:$WEB_PORT/healthz"
    wait_http "ops" "http://127.0.0.1:$OPS_PORT/healthz"
    wait_http "nginx" "$SITE_URL/readyz" --cacert "$CERT" --resolve "$HOST:$HTTPS_PORT:127.0.0.1"
    wait_http "prometheus" "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
    wait_http "alertmanager" "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready"
    echo ""
    echo "  DocuID is up: $SITE_URL  (self-signed unless DOCUID_TLS_CERT/KEY: $CERT)"
    echo "  Prometheus http://127.0.0.1:$PROMETHEUS_PORT  Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT"
    echo "  Logs: $LOG_DIR/<process>.log   Stop: make prod-down"
}

down() {
    for name in "${INFRA_PROCESSES[@]}" "${APP_PROCESSES[@]}"; do
        stop_one "$name"
    done
    echo "DocuID production stack stopped (state kept in $PROD_DIR)"
}

status() {
    for name in "${APP_PROCESSES[@]}" "${INFRA_PROCESSES[@]}"; do
        if running "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
start)
    # With the configuration the last `up` wrote: one restarted process never differs from the rest.
    [ -s "$ENV_FILE" ] || { echo "prod-stack: no $ENV_FILE; run \`make prod\` first" >&2; exit 1; }
    start_one "${2:?start NAME}"
    ;;
stop) stop_one "${2:?stop NAME}" ;;
restart)
    # One process after another (web and ops never down together): an upgrade's last step.
    shift
    [ -s "$ENV_FILE" ] || { echo "prod-stack: no $ENV_FILE; run \`make prod\` first" >&2; exit 1; }
    for name in "${@:-${APP_PROCESSES[@]}}"; do
        stop_one "$name"
        start_one "$name"
        case "$name" in
        web) wait_http "web" "http://$(sed -n 's/^GUNICORN_BIND=//p' "$ENV_FILE")/healthz" ;;
        ops) wait_http "ops" "http://$(sed -n 's/^DOCUID_OPS_BIND=//p' "$ENV_FILE")/healthz" ;;
        esac
    done
    ;;
status) status ;;
manage)
    shift
    app python manage.py "$@"
    ;;
env) echo "$ENV_FILE" ;;
settings) print_settings ;;  # what the next `up` uses (secrets included: it is the state directory's)
*)
    echo "usage: $0 up|down|status|start NAME|stop NAME|restart [NAME...]|manage ARGS...|settings" >&2
    exit 2
    ;;
esac
