#!/usr/bin/env bash
# A throw-away Exim 4.96 on loopback for netsmtp's interop tests (Debian 12,
# exim4-daemon-light). Follows the tested recipe of ../shared/servers/exim.sh.
#
#   .ci/servers/exim.sh install   # downloads exim4-daemon-light and unpacks it with dpkg -x under
#                                 # $PKG (every Debian MTA Conflicts: mail-transport-agent, so
#                                 # installing it would remove Postfix); apt-installs only the
#                                 # shared libraries it lacks; creates the Debian-exim user
#   .ci/servers/exim.sh start     # prints HOST= SMTP_PORT= SMTPS_PORT= MAILDIR= CAFILE= ...
#   .ci/servers/exim.sh stop      # stops the daemon whose pid is in $DIR/exim.pid
#   .ci/servers/exim.sh status
#
# Runs as root (started with -C <private config>; once the sockets are bound the daemon and
# every reception/delivery process run as Debian-exim). Everything lives under $DIR.
# Environment (all optional): NETSMTP_EXIM_DIR (/tmp/netsmtp-exim), NETSMTP_PKG_DIR
# (/tmp/netsmtp-pkg), EXIM_SMTP_PORT (11025), EXIM_SMTPS_PORT (11465),
# SMTP_TEST_USER (testuser), SMTP_TEST_PASS (testpass).
#
#   127.0.0.1:$SMTP_PORT   plain ESMTP + STARTTLS + AUTH (offered before TLS too)
#   127.0.0.1:$SMTPS_PORT  implicit TLS (tls_on_connect_ports)
# Offers SIZE 8BITMIME DSN PIPELINING CHUNKING SMTPUTF8 PRDR; AUTH PLAIN LOGIN CRAM-MD5.
# TLS: a self-signed certificate for localhost / 127.0.0.1 / ::1; CAFILE is that certificate.
# Delivery: every recipient of every accepted message -> $DIR/mail/Maildir/new/ (one file per
# recipient; Return-path:, Envelope-to:, Delivery-date: and Received: prepended; LF line ends).
# Nothing is ever relayed. Test hooks: recipient local part reject* -> 550, tempfail* -> 450.
set -euo pipefail

DIR=${NETSMTP_EXIM_DIR:-/tmp/netsmtp-exim}
PKG=${NETSMTP_PKG_DIR:-/tmp/netsmtp-pkg}/exim4
SMTP_PORT=${EXIM_SMTP_PORT:-11025}
SMTPS_PORT=${EXIM_SMTPS_PORT:-11465}
USER_NAME=${SMTP_TEST_USER:-testuser}
USER_PASS=${SMTP_TEST_PASS:-testpass}
EXIM_USER=Debian-exim
BIN=$PKG/root/usr/sbin/exim4
CONF=$DIR/exim.conf
PIDFILE=$DIR/exim.pid

log() { echo "exim.sh: $*" >&2; }

download() {   # download PACKAGE into the current directory (apt lists refreshed if needed)
    rm -f ./*.deb
    apt-get -q download "$1" 2>/dev/null || true
    if ! compgen -G "./${1}_*.deb" >/dev/null; then
        apt-get update -q >/dev/null && apt-get -q download "$1"
    fi
}

do_install() {
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p "$PKG"; chmod 755 "$(dirname "$PKG")" "$PKG"
    (cd "$PKG" && download exim4-daemon-light)
    local deb; deb=$(ls "$PKG"/exim4-daemon-light_*.deb)
    # only the shared libraries the binary needs (names from the .deb's Depends), and openssl
    local p missing=()
    for p in openssl $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -n 's/^ *\(lib[^ ]*\).*/\1/p'); do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        apt-get install -y -q --no-install-recommends "${missing[@]}" ||
            { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
    fi
    rm -rf "$PKG/root"; dpkg -x "$deb" "$PKG/root"
    # Debian's binary looks this user up before it reads any configuration
    getent passwd "$EXIM_USER" >/dev/null || useradd --system --user-group --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin "$EXIM_USER"
    { "$BIN" -bV 2>/dev/null || true; } | sed -n '1p;/^Authenticators/p' >&2   # exits 1: no system config
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
    getent passwd "$EXIM_USER" >/dev/null || { log "user $EXIM_USER missing (run: $0 install)"; exit 1; }
    local pid
    if pid=$(running_pid); then log "already running (pid $pid)"; print_info; return 0; fi

    mkdir -p "$DIR"/{spool,log,tls,mail}
    chmod 755 "$DIR" "$DIR/tls"
    chown "$EXIM_USER:$EXIM_USER" "$DIR"/{spool,log,mail}
    if [[ ! -s $DIR/tls/cert.pem ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null
        chmod 644 "$DIR/tls/cert.pem"
    fi
    chown "$EXIM_USER:$EXIM_USER" "$DIR/tls/key.pem"; chmod 600 "$DIR/tls/key.pem"   # read by the exim user

    # NB: Exim expands $ in its configuration; the \$ below are Exim's own variables.
    cat >"$CONF" <<EOF
exim_path = $BIN
spool_directory = $DIR/spool
log_file_path = $DIR/log/%slog
pid_file_path = $PIDFILE
primary_hostname = exim.test.local
qualify_domain = test.local
exim_user = $EXIM_USER
exim_group = $EXIM_USER
never_users = root
deliver_drop_privilege = true
keep_environment =
host_lookup =
rfc1413_hosts =
local_interfaces = <; 127.0.0.1.$SMTP_PORT ; 127.0.0.1.$SMTPS_PORT
tls_on_connect_ports = $SMTPS_PORT
tls_advertise_hosts = *
tls_certificate = $DIR/tls/cert.pem
tls_privatekey = $DIR/tls/key.pem
auth_advertise_hosts = *
smtputf8_advertise_hosts = *
dsn_advertise_hosts = *
chunking_advertise_hosts = *
pipelining_advertise_hosts = *
prdr_enable = true
# the interop tests send a 20 MB message
message_size_limit = 40M
smtp_accept_max = 100
# deliver at once, however many messages one connection sends
smtp_accept_queue_per_connection = 0
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
timeout_frozen_after = 1h
ignore_bounce_errors_after = 1h

begin acl
acl_check_rcpt:
  deny    local_parts = ^reject.*
          message = 550 5.1.1 Recipient rejected by test rule
  defer   local_parts = ^tempfail.*
          message = 450 4.2.0 Recipient temporarily rejected by test rule
  accept

acl_check_data:
  accept

begin routers
# catch-all: every domain, every local part; nothing is ever relayed
catchall:
  driver = accept
  transport = maildir_all

begin transports
maildir_all:
  driver = appendfile
  directory = $DIR/mail/Maildir
  maildir_format
  create_directory
  directory_mode = 0755
  mode = 0644
  user = $EXIM_USER
  group = $EXIM_USER
  delivery_date_add
  envelope_to_add
  return_path_add

begin retry
*   *   F,1h,1m

begin authenticators
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{$USER_NAME}}{eq{\$auth3}{$USER_PASS}}}}
  server_set_id = \$auth2

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{$USER_NAME}}{eq{\$auth2}{$USER_PASS}}}}
  server_set_id = \$auth1

CRAM_MD5:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = \${if eq{\$auth1}{$USER_NAME}{$USER_PASS}fail}
  server_set_id = \$auth1
EOF
    chmod 644 "$CONF"
    "$BIN" -C "$CONF" -bV >/dev/null   # configuration syntax check
    "$BIN" -C "$CONF" -bd -q1m
    wait_banner 127.0.0.1 "$SMTP_PORT" 30 || { log "no banner on $SMTP_PORT"; cat "$DIR"/log/* >&2 || true; do_stop; exit 1; }
    wait_tls_banner 127.0.0.1 "$SMTPS_PORT" 15 || { log "no TLS banner on $SMTPS_PORT"; do_stop; exit 1; }
    for _ in $(seq 50); do [[ -s $PIDFILE ]] && break; sleep 0.1; done
    print_info
}

print_info() {
    echo "HOST=127.0.0.1"
    echo "SMTP_PORT=$SMTP_PORT"
    echo "SMTPS_PORT=$SMTPS_PORT"
    echo "MAILDIR=$DIR/mail/Maildir"
    echo "CAFILE=$DIR/tls/cert.pem"
    echo "LOG=$DIR/log/mainlog"
    echo "PIDFILE=$PIDFILE"
    echo "SMTP_USER=$USER_NAME"
    echo "SMTP_PASS=$USER_PASS"
}

do_stop() {
    local pid
    if ! pid=$(running_pid); then log "not running"; return 0; fi
    kill -TERM "$pid"
    for _ in $(seq 100); do alive "$pid" || { rm -f "$PIDFILE"; log "stopped (pid $pid)"; return 0; }; sleep 0.1; done
    log "daemon $pid did not exit; sending SIGKILL"; kill -KILL "$pid"
}

case ${1:-} in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    status) if pid=$(running_pid); then echo "running pid $pid"; print_info; else echo "stopped"; exit 3; fi ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
