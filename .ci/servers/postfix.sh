#!/usr/bin/env bash
# A throw-away Postfix on loopback for netsmtp's interop tests (Debian 12, Postfix 3.7,
# Cyrus SASL). Follows the tested recipe of ../shared/servers/postfix.sh.
#
#   .ci/servers/postfix.sh install   # apt: postfix (debconf "No configuration") + sasl2-bin + openssl
#   .ci/servers/postfix.sh start     # prints HOST= SMTP_PORT= SMTPS_PORT= SUBMISSION_PORT= CAFILE= ...
#   .ci/servers/postfix.sh stop      # stops the master whose pid is in $DIR/queue/pid/master.pid
#   .ci/servers/postfix.sh status
#
# install/start/stop run as root (the Postfix master refuses to start otherwise) but use
# their own config_directory / queue_directory / data_directory under $DIR (default
# /tmp/netsmtp-postfix), so nothing touches /etc/postfix or /var/spool/postfix.
# Environment (all optional): NETSMTP_POSTFIX_DIR, POSTFIX_SMTP_PORT (10025),
# POSTFIX_SMTPS_PORT (10465), POSTFIX_SUBMISSION_PORT (10587), POSTFIX_ADDR (127.0.0.1),
# SMTP_TEST_USER (testuser), SMTP_TEST_PASS (testpass).
#
#   $ADDR:$SMTP_PORT        plain ESMTP, STARTTLS offered, AUTH offered (also before TLS)
#   $ADDR:$SMTPS_PORT       implicit TLS ("smtps"/submissions), AUTH offered
#   $ADDR:$SUBMISSION_PORT  STARTTLS required, AUTH only after TLS, AUTH required to send
# AUTH: Cyrus SASL + private sasldb (no system users): PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256
# TLS: a self-signed certificate for localhost / 127.0.0.1 / ::1; CAFILE is that certificate.
# Delivery: every accepted message goes by virtual(8) into ONE Maildir ($DIR/mail/Maildir);
# nothing is ever relayed (no smtp/lmtp transport in master.cf).
# Test hooks: recipient local part reject* -> 550 5.1.1, tempfail* -> 450 4.2.0.
set -euo pipefail

DIR=${NETSMTP_POSTFIX_DIR:-/tmp/netsmtp-postfix}
SMTP_PORT=${POSTFIX_SMTP_PORT:-10025}
SMTPS_PORT=${POSTFIX_SMTPS_PORT:-10465}
SUBMISSION_PORT=${POSTFIX_SUBMISSION_PORT:-10587}
ADDR=${POSTFIX_ADDR:-127.0.0.1}            # or ::1 (then inet_protocols=all)
USER_NAME=${SMTP_TEST_USER:-testuser}
USER_PASS=${SMTP_TEST_PASS:-testpass}
REALM=test.local
# uid that owns the delivered files (virtual(8) refuses root); SUDO_UID if set, else nobody
DELIVERY_UID=${POSTFIX_DELIVERY_UID:-${SUDO_UID:-65534}}
DELIVERY_GID=${POSTFIX_DELIVERY_GID:-$(id -g "$DELIVERY_UID" 2>/dev/null || echo 65534)}
PIDFILE=$DIR/queue/pid/master.pid
PF=(/usr/sbin/postfix -c "$DIR/etc")

log() { echo "postfix.sh: $*" >&2; }

do_install() {
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    local pkgs=(postfix sasl2-bin libsasl2-modules openssl)
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" ||
        { apt-get update -q && apt-get install -y -q --no-install-recommends "${pkgs[@]}"; }
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
    [[ $host == *:* ]] && host="[$host]"
    while ((SECONDS < deadline)); do
        # -ign_eof: keep reading after stdin EOF; || true: pipefail + servers closing without close_notify
        out=$(printf 'QUIT\r\n' | timeout 5 openssl s_client -quiet -ign_eof -connect "$host:$port" 2>/dev/null || true)
        [[ $out == 220* ]] && return 0
        sleep 0.2
    done
    return 1
}

alive() {   # a zombie (exited, not yet reaped by its parent / PID 1) counts as dead
    local st; st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $st != Z* ]]
}

running_pid() {
    [[ -s $PIDFILE ]] || return 1
    local pid; pid=$(tr -dc 0-9 <"$PIDFILE")
    [[ -n $pid ]] && alive "$pid" && echo "$pid"
}

do_start() {
    [[ $(id -u) == 0 ]] || { log "must run as root"; exit 1; }
    command -v /usr/sbin/postfix >/dev/null || { log "postfix not installed (run: $0 install)"; exit 1; }
    if pid=$(running_pid); then log "already running (pid $pid)"; print_info; return 0; fi
    local host=$ADDR protos=ipv4 mynet="127.0.0.0/8" listen=$ADDR
    if [[ $ADDR == *:* ]]; then protos=all; mynet="127.0.0.0/8 [::1]/128"; listen="[$ADDR]"; fi

    mkdir -p "$DIR"/{etc/sasl,tls,log,data,queue,mail}
    chmod 755 "$DIR" "$DIR"/{etc,etc/sasl,tls,log,queue,mail}
    chown postfix:postfix "$DIR/data"
    chown "$DELIVERY_UID:$DELIVERY_GID" "$DIR/mail"

    # --- self-signed certificate (CN=localhost, SAN localhost/127.0.0.1/::1)
    if [[ ! -s $DIR/tls/cert.pem ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null
        chmod 600 "$DIR/tls/key.pem"; chmod 644 "$DIR/tls/cert.pem"
    fi

    # --- SASL: Cyrus, private sasldb, no saslauthd and no system users
    cat >"$DIR/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $DIR/etc/sasl/sasldb2
mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256
EOF
    rm -f "$DIR/etc/sasl/sasldb2"
    printf '%s' "$USER_PASS" | saslpasswd2 -p -c -f "$DIR/etc/sasl/sasldb2" -u "$REALM" "$USER_NAME"
    chown root:postfix "$DIR/etc/sasl/sasldb2"; chmod 640 "$DIR/etc/sasl/sasldb2"

    cat >"$DIR/etc/recipient_access" <<'EOF'
/^reject[^@]*@/    550 5.1.1 Recipient rejected by test rule
/^tempfail[^@]*@/  450 4.2.0 Recipient temporarily rejected by test rule
EOF

    cat >"$DIR/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $DIR/queue
data_directory = $DIR/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $DIR/log/postfix.log
# default prefixes are /var, /dev/stdout; anything else is refused (silently!)
maillog_file_prefixes = $DIR/log
myhostname = postfix.$REALM
mydomain = $REALM
myorigin = \$myhostname
mydestination =
relay_domains =
inet_interfaces = $ADDR
inet_protocols = $protos
mynetworks = $mynet
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP Postfix (test peer)
# nothing leaves the box: every address class goes to virtual(8)
local_transport = virtual
default_transport = virtual
relay_transport = virtual
virtual_transport = virtual
virtual_mailbox_base = $DIR/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$DELIVERY_UID
virtual_gid_maps = static:$DELIVERY_GID
virtual_minimum_uid = 1
# do not add Date/Message-ID/From to mail from loopback clients
local_header_rewrite_clients =
always_add_missing_headers = no
smtputf8_enable = yes
# the interop tests send a 20 MB message (virtual_mailbox_limit, 51200000, must stay above)
message_size_limit = 41943040
# fast failures for tests
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
in_flow_delay = 0
delay_warning_time = 0
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
# TLS (STARTTLS offered, not required, on the main port)
smtpd_tls_chain_files = $DIR/tls/key.pem, $DIR/tls/cert.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = no
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
# SASL AUTH
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $DIR/etc/sasl
smtpd_sasl_local_domain = $REALM
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
broken_sasl_auth_clients = no
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access regexp:$DIR/etc/recipient_access
EOF

    cat >"$DIR/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
$listen:$SMTP_PORT inet n - n - - smtpd
$listen:$SMTPS_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
$listen:$SUBMISSION_PORT inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

    "${PF[@]}" check
    "${PF[@]}" start
    wait_banner "$host" "$SMTP_PORT" 30 || { log "no banner on $SMTP_PORT"; tail -20 "$DIR/log/postfix.log" >&2; do_stop; exit 1; }
    wait_tls_banner "$host" "$SMTPS_PORT" 15 || { log "no TLS banner on $SMTPS_PORT"; do_stop; exit 1; }
    wait_banner "$host" "$SUBMISSION_PORT" 10 || { log "no banner on $SUBMISSION_PORT"; do_stop; exit 1; }
    print_info
}

print_info() {
    echo "HOST=$ADDR"
    echo "SMTP_PORT=$SMTP_PORT"
    echo "SMTPS_PORT=$SMTPS_PORT"
    echo "SUBMISSION_PORT=$SUBMISSION_PORT"
    echo "MAILDIR=$DIR/mail/Maildir"
    echo "CAFILE=$DIR/tls/cert.pem"
    echo "PIDFILE=$PIDFILE"
    echo "SMTP_USER=$USER_NAME"
    echo "SMTP_PASS=$USER_PASS"
}

do_stop() {
    local pid
    if ! pid=$(running_pid); then log "not running"; return 0; fi
    "${PF[@]}" stop || kill -TERM "$pid"
    for _ in $(seq 100); do alive "$pid" || { log "stopped (pid $pid)"; return 0; }; sleep 0.1; done
    log "master $pid did not exit; sending SIGKILL"; kill -KILL "$pid"
}

case ${1:-} in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    status) if pid=$(running_pid); then echo "running pid $pid"; print_info; else echo "stopped"; exit 3; fi ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
