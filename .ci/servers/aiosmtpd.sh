#!/usr/bin/env bash
# aiosmtpd (PyPI) on loopback as a background test peer for netsmtp's interop tests.
# Follows the tested recipe of ../shared/servers/aiosmtpd.sh; the server is aiosmtpd_server.py
# beside this script (what aiosmtpd does and does not support is described there).
#
#   .ci/servers/aiosmtpd.sh install   # python3 -m venv $PKG/venv-aiosmtpd && pip install aiosmtpd
#   .ci/servers/aiosmtpd.sh start     # prints HOST= SMTP_PORT= SMTPS_PORT= MAILDIR= CAFILE= ...
#   .ci/servers/aiosmtpd.sh stop      # SIGTERM to the pid in $DIR/aiosmtpd.pid
#   .ci/servers/aiosmtpd.sh status
#
# No root needed. Environment (all optional): NETSMTP_AIOSMTPD_DIR (/tmp/netsmtp-aiosmtpd),
# NETSMTP_PKG_DIR (/tmp/netsmtp-pkg), AIOSMTPD_PYTHON (a python with aiosmtpd; default the
# venv made by install), AIOSMTPD_SMTP_PORT (13025), AIOSMTPD_SMTPS_PORT (13465),
# SMTP_TEST_USER (testuser), SMTP_TEST_PASS (testpass).
#
#   127.0.0.1:$SMTP_PORT   plain ESMTP + STARTTLS + AUTH (PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256, also before TLS)
#   127.0.0.1:$SMTPS_PORT  implicit TLS + AUTH
# Delivery: $DIR/mail/Maildir/new/, one file per recipient, CRLF kept.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${NETSMTP_AIOSMTPD_DIR:-/tmp/netsmtp-aiosmtpd}
PKG=${NETSMTP_PKG_DIR:-/tmp/netsmtp-pkg}
VENV=$PKG/venv-aiosmtpd
PY=${AIOSMTPD_PYTHON:-$VENV/bin/python}
SMTP_PORT=${AIOSMTPD_SMTP_PORT:-13025}
SMTPS_PORT=${AIOSMTPD_SMTPS_PORT:-13465}
USER_NAME=${SMTP_TEST_USER:-testuser}
USER_PASS=${SMTP_TEST_PASS:-testpass}
PIDFILE=$DIR/aiosmtpd.pid

log() { echo "aiosmtpd.sh: $*" >&2; }

do_install() {
    mkdir -p "$PKG"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "aiosmtpd>=1.4.6,<2"
    "$VENV/bin/python" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__)' >&2
}

wait_banner() {   # wait_banner HOST PORT SECONDS  -> succeeds once a 220 greeting is read
    local host=$1 port=$2 deadline=$((SECONDS + $3)) line
    while ((SECONDS < deadline)); do
        if { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
            if IFS= read -r -t 5 line <&3 && [[ $line == 220* ]]; then
                printf 'QUIT\r\n' >&3 || true; exec 3>&- 3<&-; return 0
            fi
            exec 3>&- 3<&- || true
        fi
        sleep 0.1
    done
    return 1
}

alive() {   # a zombie (exited, not yet reaped) counts as dead; /proc, so no procps needed
    local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [[ $st != Z* ]]
}

running_pid() {
    [[ -s $PIDFILE ]] || return 1
    local pid; pid=$(tr -dc 0-9 <"$PIDFILE")
    [[ -n $pid ]] && alive "$pid" && echo "$pid"
}

do_start() {
    [[ -x $PY ]] || { log "$PY missing (run: $0 install)"; exit 1; }
    local pid
    if pid=$(running_pid); then log "already running (pid $pid)"; print_info; return 0; fi
    mkdir -p "$DIR"/{tls,mail,log}
    if [[ ! -s $DIR/tls/cert.pem ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null
        chmod 600 "$DIR/tls/key.pem"; chmod 644 "$DIR/tls/cert.pem"
    fi
    SMTP_TEST_USER=$USER_NAME SMTP_TEST_PASS=$USER_PASS \
        nohup "$PY" "$HERE/aiosmtpd_server.py" --port "$SMTP_PORT" --smtps-port "$SMTPS_PORT" \
        --maildir "$DIR/mail/Maildir" --cert "$DIR/tls/cert.pem" --key "$DIR/tls/key.pem" \
        >"$DIR/log/aiosmtpd.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    wait_banner 127.0.0.1 "$SMTP_PORT" 30 || { log "no banner"; tail -20 "$DIR/log/aiosmtpd.log" >&2; do_stop; exit 1; }
    wait_banner_tls || { log "no TLS banner on $SMTPS_PORT"; tail -20 "$DIR/log/aiosmtpd.log" >&2; do_stop; exit 1; }
    print_info
}

wait_banner_tls() {   # implicit-TLS port: full handshake, expect the 220 greeting
    local deadline=$((SECONDS + 15)) out
    while ((SECONDS < deadline)); do
        out=$(printf 'QUIT\r\n' | timeout 5 openssl s_client -quiet -ign_eof -connect "127.0.0.1:$SMTPS_PORT" 2>/dev/null || true)
        [[ $out == 220* ]] && return 0
        sleep 0.2
    done
    return 1
}

print_info() {
    echo "HOST=127.0.0.1"
    echo "SMTP_PORT=$SMTP_PORT"
    echo "SMTPS_PORT=$SMTPS_PORT"
    echo "MAILDIR=$DIR/mail/Maildir"
    echo "CAFILE=$DIR/tls/cert.pem"
    echo "LOG=$DIR/log/aiosmtpd.log"
    echo "PIDFILE=$PIDFILE"
    echo "SMTP_USER=$USER_NAME"
    echo "SMTP_PASS=$USER_PASS"
}

do_stop() {
    local pid
    if ! pid=$(running_pid); then log "not running"; rm -f "$PIDFILE"; return 0; fi
    kill -TERM "$pid"
    for _ in $(seq 100); do alive "$pid" || { rm -f "$PIDFILE"; log "stopped (pid $pid)"; return 0; }; sleep 0.1; done
    log "$pid did not exit; sending SIGKILL"; kill -KILL "$pid"
}

case ${1:-} in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    status) if pid=$(running_pid); then echo "running pid $pid"; print_info; else echo "stopped"; exit 3; fi ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
