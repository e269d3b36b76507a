#!/usr/bin/env bash
# A throw-away OpenSMTPD 7.4 on loopback for netsmtp's interop tests (Debian 12).
# Follows the tested recipe of ../shared/servers/opensmtpd.sh.
#
#   .ci/servers/opensmtpd.sh install  # downloads opensmtpd from bookworm-backports through a
#                                     # private apt state under $PKG (the system's sources.list is
#                                     # untouched) and unpacks it with dpkg -x (Debian's MTAs all
#                                     # Conflict: mail-transport-agent); apt-installs only missing
#                                     # shared libraries; creates the privsep users opensmtpd/opensmtpq
#   .ci/servers/opensmtpd.sh start    # prints HOST= SMTP_PORT= SMTPS_PORT= MAILDIR= CAFILE= ...
#   .ci/servers/opensmtpd.sh stop     # SIGTERM to the smtpd whose pid is in $DIR/smtpd.pid
#   .ci/servers/opensmtpd.sh status
#
# Why 7.4 from backports: bookworm's own 6.8.0p2 cannot do server-side TLS with OpenSSL 3
# (upstream issues #1171/#1239), and OpenSMTPD offers AUTH only inside TLS.
# Needs root (privsep + chroot). Config, certificate, credentials and Maildir live under $DIR,
# but the queue (/var/spool/smtpd), control socket (/var/run/smtpd.sock) and chroot
# (/var/lib/opensmtpd/empty) are compiled in: only ONE OpenSMTPD can run per machine.
# Environment (all optional): NETSMTP_OPENSMTPD_DIR (/tmp/netsmtp-opensmtpd), NETSMTP_PKG_DIR
# (/tmp/netsmtp-pkg), OPENSMTPD_SMTP_PORT (12025), OPENSMTPD_SMTPS_PORT (12465),
# SMTP_TEST_USER (testuser), SMTP_TEST_PASS (testpass).
#
#   127.0.0.1:$SMTP_PORT   plain ESMTP + STARTTLS; AUTH (PLAIN LOGIN) only after STARTTLS
#   127.0.0.1:$SMTPS_PORT  implicit TLS + AUTH
# Offers SIZE 8BITMIME ENHANCEDSTATUSCODES DSN; no PIPELINING (pipelined commands are refused
# and the connection closed), no CHUNKING, no SMTPUTF8.
# Delivery: every recipient of any domain -> virtual catch-all "@" -> user "sink" (uid from a
# userbase table: SUDO_UID or nobody) -> mail.maildir into $DIR/mail/Maildir/new/ (Return-Path:,
# Delivered-To: and Received: prepended; LF line ends).
# Test hooks (builtin filters): recipient reject* -> 550 5.1.1, tempfail* -> 450 4.2.0.
set -euo pipefail

DIR=${NETSMTP_OPENSMTPD_DIR:-/tmp/netsmtp-opensmtpd}
PKG=${NETSMTP_PKG_DIR:-/tmp/netsmtp-pkg}/opensmtpd
SMTP_PORT=${OPENSMTPD_SMTP_PORT:-12025}
SMTPS_PORT=${OPENSMTPD_SMTPS_PORT:-12465}
USER_NAME=${SMTP_TEST_USER:-testuser}
USER_PASS=${SMTP_TEST_PASS:-testpass}
SUITE=bookworm-backports
DELIVERY_UID=${OPENSMTPD_DELIVERY_UID:-${SUDO_UID:-65534}}
DELIVERY_GID=${OPENSMTPD_DELIVERY_GID:-$(id -g "$DELIVERY_UID" 2>/dev/null || echo 65534)}
BIN=$PKG/root/usr/sbin/smtpd
MAILDIR_HELPER=$PKG/root/usr/libexec/opensmtpd/mail.maildir
CONF=$DIR/smtpd.conf
PIDFILE=$DIR/smtpd.pid

log() { echo "opensmtpd.sh: $*" >&2; }

do_install() {
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p "$PKG"; chmod 755 "$(dirname "$PKG")" "$PKG"
    # private apt state: only $SUITE in the list, the system's apt configuration untouched
    local A=$PKG/apt
    mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/parts"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" >"$A/sources.list"
    local o=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/parts"
             -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
    apt-get "${o[@]}" -q update >/dev/null
    (cd "$PKG" && rm -f ./*.deb && apt-get "${o[@]}" -q download "opensmtpd/$SUITE")
    local deb; deb=$(ls "$PKG"/opensmtpd_*.deb)
    local p missing=()
    for p in openssl $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -n 's/^ *\(lib[^ ]*\).*/\1/p; s/^ *\(zlib1g\).*/\1/p'); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        apt-get install -y -q --no-install-recommends "${missing[@]}" ||
            { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
    fi
    rm -rf "$PKG/root"; dpkg -x "$deb" "$PKG/root"
    local u
    for u in opensmtpd opensmtpq; do   # compiled-in privsep users (the names Debian's postinst uses)
        getent passwd $u >/dev/null || useradd --system --user-group --no-create-home \
            --home-dir /var/lib/opensmtpd/empty --shell /usr/sbin/nologin $u
    done
    { "$BIN" -h 2>&1 || true; } | head -1 >&2
}

wait_banner() {   # wait_banner HOST PORT SECONDS  -> succeeds once a 220 greeting is read
    local host=$1 port=$2 deadline=$((SECONDS + $3)) line
    while ((SECONDS < deadline)); do
        [[ -z ${DAEMON_PID:-} ]] || alive "$DAEMON_PID" || return 1   # it died (e.g. another smtpd runs)
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

wait_tls_banner() {   # implicit-TLS port: full handshake, expect the 220 greeting
    local host=$1 port=$2 deadline=$((SECONDS + $3)) out
    while ((SECONDS < deadline)); do
        # -ign_eof: keep reading after stdin EOF; || true: servers closing without close_notify
        out=$(printf 'QUIT\r\n' | timeout 5 openssl s_client -quiet -ign_eof -connect "$host:$port" 2>/dev/null || true)
        [[ $out == 220* ]] && return 0
        sleep 0.2
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
    [[ $(id -u) == 0 ]] || { log "must run as root"; exit 1; }
    [[ -x $BIN ]] || { log "$BIN missing (run: $0 install)"; exit 1; }
    getent passwd opensmtpq >/dev/null || { log "users opensmtpd/opensmtpq missing (run: $0 install)"; exit 1; }
    local pid
    if pid=$(running_pid); then log "already running (pid $pid)"; print_info; return 0; fi

    mkdir -p "$DIR"/{tls,mail,log} /var/lib/opensmtpd/empty
    chmod 755 "$DIR" "$DIR/tls"
    chown "$DELIVERY_UID:$DELIVERY_GID" "$DIR/mail"
    if [[ ! -s $DIR/tls/cert.pem ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null
        chmod 600 "$DIR/tls/key.pem"; chmod 644 "$DIR/tls/cert.pem"
    fi
    # credentials table: user + crypt(3) hash (SHA-512 crypt; smtpctl encrypt not needed)
    printf '%s %s\n' "$USER_NAME" "$(openssl passwd -6 "$USER_PASS")" >"$DIR/creds"
    chmod 600 "$DIR/creds"

    local hooks='filter "hooks"'
    cat >"$CONF" <<EOF
pki test cert "$DIR/tls/cert.pem"
pki test key "$DIR/tls/key.pem"
table creds file:$DIR/creds
table reject_re { "^reject" }
table tempfail_re { "^tempfail" }
# the interop tests send a 20 MB message
smtp max-message-size 40M
queue ttl 1h
filter "rej" phase rcpt-to match rcpt-to regex <reject_re> reject "550 5.1.1 Recipient rejected by test rule"
filter "tmp" phase rcpt-to match rcpt-to regex <tempfail_re> reject "450 4.2.0 Recipient temporarily rejected by test rule"
filter "hooks" chain { "rej", "tmp" }
listen on 127.0.0.1 port $SMTP_PORT tls pki test auth-optional <creds> hostname opensmtpd.test.local $hooks
listen on 127.0.0.1 port $SMTPS_PORT smtps pki test auth-optional <creds> hostname opensmtpd.test.local $hooks
# catch-all: every recipient -> user "sink" (no system user: the userbase table gives uid/gid/home)
table vmap { "@" = "sink" }
table ubase { "sink" = "$DELIVERY_UID:$DELIVERY_GID:$DIR/mail" }
# "maildir" runs a helper from the compiled-in /usr/libexec/opensmtpd (absent with dpkg -x):
# an mda wrapper replaces that command line with the unpacked one
mda wrapper "sinkw" "$MAILDIR_HELPER $DIR/mail/Maildir"
action "sink" maildir virtual <vmap> userbase <ubase> wrapper "sinkw"
match from any for any action "sink"
EOF
    chmod 644 "$CONF"
    "$BIN" -n -f "$CONF" >"$DIR/log/check.log" 2>&1 || { cat "$DIR/log/check.log" >&2; exit 1; }   # syntax check
    # -d: foreground (so the pid is the parent's); its log goes to stderr -> $DIR/log/smtpd.log
    nohup "$BIN" -d -f "$CONF" >"$DIR/log/smtpd.log" 2>&1 </dev/null &
    DAEMON_PID=$!
    echo "$DAEMON_PID" >"$PIDFILE"
    wait_banner 127.0.0.1 "$SMTP_PORT" 30 || { log "no banner on $SMTP_PORT"; tail -20 "$DIR/log/smtpd.log" >&2; do_stop; exit 1; }
    wait_tls_banner 127.0.0.1 "$SMTPS_PORT" 15 || { log "no TLS banner on $SMTPS_PORT"; tail -20 "$DIR/log/smtpd.log" >&2; do_stop; exit 1; }
    print_info
}

print_info() {
    echo "HOST=127.0.0.1"
    echo "SMTP_PORT=$SMTP_PORT"
    echo "SMTPS_PORT=$SMTPS_PORT"
    echo "MAILDIR=$DIR/mail/Maildir"
    echo "CAFILE=$DIR/tls/cert.pem"
    echo "LOG=$DIR/log/smtpd.log"
    echo "PIDFILE=$PIDFILE"
    echo "SMTP_USER=$USER_NAME"
    echo "SMTP_PASS=$USER_PASS"
}

do_stop() {
    local pid
    if ! pid=$(running_pid); then log "not running"; rm -f "$PIDFILE"; return 0; fi
    kill -TERM "$pid"
    for _ in $(seq 100); do alive "$pid" || { rm -f "$PIDFILE"; log "stopped (pid $pid)"; return 0; }; sleep 0.1; done
    log "smtpd $pid did not exit; sending SIGKILL"; kill -KILL "$pid"
}

case ${1:-} in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    status) if pid=$(running_pid); then echo "running pid $pid"; print_info; else echo "stopped"; exit 3; fi ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
