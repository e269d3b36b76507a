#!/usr/bin/perl
# The Net::SMTP side of the equivalence harness (tests/equivalence).
#
#   perl driver.pl SCENARIO HOST:PORT CAFILE     run one scenario against the recording server
#   perl driver.pl --list                         the scenario names, one per line
#
# Each scenario uses Debian's Net::SMTP 3.14 exactly as the manual describes; its twin in
# scenarios.py does the same with netsmtp.SMTP, against the same scripted server, and the
# harness compares the bytes each client sent. What each call returned is printed (for the
# test's failure report only): "name: value". A die is caught and printed as "died: ...".
use strict;
use warnings;
use Net::SMTP;
use Socket qw(AF_INET);
use Authen::SASL;

$| = 1;
my ($NAME, $HOST, $CA) = @ARGV;
my ($PORT) = defined $HOST ? $HOST =~ /:(\d+)$/ : ();
my %COMMON = (Hello => 'client.example', Timeout => 10);

sub smtp {    # a connected Net::SMTP, or die with $@
    my $s = Net::SMTP->new($HOST, %COMMON, @_) or die "new failed: " . ($@ // '') . "\n";
    return $s;
}

sub show {    # show NAME => VALUE...: what a call returned
    my ($name, @values) = @_;
    print "$name: ", join(' | ', map { defined $_ ? $_ : 'undef' } @values), "\n";
}

my %scenario;

# ---- new() and its options ----------------------------------------------------------------------
$scenario{new_hello_quit} = sub {
    my $s = smtp();
    show(banner => $s->banner);
    show(domain => $s->domain);
    show(quit => $s->quit);
};
$scenario{new_default_hello} = sub {
    my $s = Net::SMTP->new($HOST, Timeout => 10) or die "new failed: $@\n";
    $s->quit;
};
$scenario{new_host_port_options} = sub {
    my $s = Net::SMTP->new(Host => '127.0.0.1', Port => $PORT, %COMMON) or die "new failed: $@\n";
    show(host => $s->host);
    $s->quit;
};
$scenario{new_host_list} = sub {
    my $s = Net::SMTP->new(Host => ['127.0.0.1:1', $HOST], %COMMON) or die "new failed: $@\n";
    show(host => $s->host);
    $s->quit;
};
$scenario{new_sendhello_off} = sub {
    my $s = smtp(SendHello => 0);
    show(hello => $s->hello('late.example'));
    $s->quit;
};
$scenario{new_socket_options} = sub {
    my $s = smtp(LocalAddr => '127.0.0.1', Domain => AF_INET, Debug => 1, Timeout => 30);
    show(noop => $s->command('NOOP')->response);
    $s->quit;
};
$scenario{ssl_implicit} = sub {
    my $s = smtp(SSL => 1, SSL_ca_file => $CA);
    $s->mail('a@example.org');
    $s->to('b@example.net');
    show(data => $s->data("Subject: implicit TLS\n\nhello\n"));
    $s->quit;
};
$scenario{starttls} = sub {
    my $s = smtp();
    show(starttls => $s->starttls(SSL_ca_file => $CA));
    show(supports_starttls => $s->supports('STARTTLS'));
    $s->mail('a@example.org');
    $s->to('b@example.net');
    show(data => $s->data("Subject: STARTTLS\n\nhello\n"));
    $s->quit;
};
$scenario{starttls_not_advertised} = sub {
    my $s = smtp();
    show(starttls => $s->starttls(SSL_ca_file => $CA), $s->code);
    $s->quit;
};

# ---- hello() ---------------------------------------------------------------------------------
$scenario{hello_helo_fallback} = sub {
    my $s = smtp();
    show(supports_size => $s->supports('SIZE'));
    show(mail => $s->mail('a@example.org', Size => 100));
    $s->quit;
};
$scenario{hello_again} = sub {
    my $s = smtp();
    show(hello => $s->hello('second.example'));
    $s->quit;
};
$scenario{hello_4xx_refused} = sub {
    my $s = smtp();
};
$scenario{multiline_greeting} = sub {
    my $s = smtp();
    show(banner => $s->banner, domain => $s->domain);
    $s->quit;
};
$scenario{greeting_line_keyword} = sub {
    my $s = smtp();
    show(mail => $s->mail('a@example.org', Size => 100));
    $s->reset;
    $s->quit;
};

# ---- mail() and its options ----------------------------------------------------------------------
$scenario{mail_size_return_bits8} = sub {
    my $s = smtp();
    show(mail => $s->mail('a@example.org', Size => 1234, Return => 'FULL', Bits => '8'));
    $s->reset;
    $s->quit;
};
$scenario{mail_hdrs_bits7_envid_auth_xverp} = sub {
    my $s = smtp();
    show(mail => $s->mail('a@example.org', Return => 'HDRS', Bits => '7', ENVID => 'PRE+2Bencoded',
                          AUTH => 'sub+40x', XVERP => 1));
    $s->reset;
    $s->quit;
};
$scenario{mail_envelope_xtext} = sub {
    my $s = smtp();
    $s->mail('a@example.org', Envelope => "id=+ x\x7f");
    $s->reset;
    $s->mail('b@example.org', Envelope => "caf\x{e9}");
    $s->reset;
    $s->quit;
};
$scenario{mail_transaction_auth_empty} = sub {
    my $s = smtp();
    $s->mail('a@example.org', Transaction => 'tx@id', AUTH => '');
    $s->reset;
    $s->quit;
};
$scenario{mail_options_not_advertised} = sub {
    my $s = smtp();
    show(mail => $s->mail('a@example.org', Size => 10, Return => 'FULL', Bits => '8', Envelope => 'x',
                          Transaction => 't@x', AUTH => 'u', XVERP => 1));
    $s->reset;
    $s->quit;
};
$scenario{mail_xverp_zero} = sub {
    my $s = smtp();
    $s->mail('a@example.org', XVERP => 0);
    $s->reset;
    $s->quit;
};
$scenario{mail_envelope_and_envid} = sub {
    my $s = smtp();
    $s->mail('a@example.org', Envelope => 'x', ENVID => 'y');
    $s->reset;
    $s->quit;
};
$scenario{mail_loose_values} = sub {
    my $s = smtp();
    $s->mail('a@example.org', Size => '123abc');
    $s->reset;
    $s->mail('b@example.org', Return => 'whatever');
    $s->reset;
    $s->mail('c@example.org', Bits => '8bit');
    $s->reset;
    $s->quit;
};
$scenario{send_soml_saml} = sub {
    my $s = smtp();
    show(send => $s->send('a@example.org'));
    $s->reset;
    show(send_or_mail => $s->send_or_mail('b@example.org'));
    $s->reset;
    show(send_and_mail => $s->send_and_mail('c@example.org'));
    $s->reset;
    $s->quit;
};

# ---- BDAT ------------------------------------------------------------------------------------------
$scenario{mail_binary_bdat} = sub {
    my $s = smtp();
    $s->mail('a@example.org', Bits => 'binary');
    $s->to('b@example.net');
    show(bdat => $s->bdat("hello\n."));
    show(bdatlast => $s->bdatlast("end\r\n"));
    $s->quit;
};
$scenario{chunking_mode_sticks} = sub {
    my $s = smtp();
    $s->mail('a@example.org', Bits => 'binary');
    $s->to('b@example.net');
    $s->bdatlast("one\r\n");
    $s->mail('c@example.org');
    $s->to('d@example.net');
    show(data => $s->data("x\n"));
    $s->quit;
};
$scenario{bdat_without_binary} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    $s->to('b@example.net');
    show(bdat => $s->bdat("chunk"));
    show(bdatlast => $s->bdatlast("last"));
    $s->reset;
    $s->quit;
};

# ---- recipient() ------------------------------------------------------------------------------------
$scenario{recipient_aliases} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    show(to => $s->to('b@example.net'));
    show(cc => $s->cc('c@example.net', 'd@example.net'));
    show(bcc => $s->bcc('e@example.net'));
    show(recipient => $s->recipient('f@example.net'));
    show(to_nothing => $s->to());
    show(data => $s->data(["Subject: aliases\n", "\n", "body\n"]));
    $s->quit;
};
$scenario{recipient_skipbad} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    my @good = $s->recipient('good1@example.net', 'bad1@example.net', 'good2@example.net', { SkipBad => 1 });
    show(good => @good);
    $s->reset;
    $s->quit;
};
$scenario{recipient_first_failure_stops} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    show(to => $s->to('good@example.net', 'bad@example.net', 'never@example.net'), $s->code);
    $s->reset;
    $s->quit;
};
$scenario{recipient_notify_orcpt} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    $s->to('a@example.net', 'b@example.net',
           { Notify => ['SUCCESS', 'FAILURE'], ORcpt => 'rfc822;orig+40example.com' });
    $s->to('c@example.net', { Notify => ['NEVER'] });
    $s->to('d@example.net', { Notify => ['delay'] });
    $s->reset;
    $s->quit;
};
$scenario{recipient_dsn_not_advertised} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    $s->to('a@example.net', { Notify => ['SUCCESS'], ORcpt => 'rfc822;x' });
    $s->reset;
    $s->quit;
};

# ---- addresses (Part B §13) ----------------------------------------------------------------------
$scenario{addresses_dwim} = sub {
    my $s = smtp();
    $s->mail('Joe User <joe@example.com>');
    $s->to('  user@example.com  ');
    $s->to('"funny user"@example.com');
    $s->to(' <x@example.com> ');
    $s->to('no angle, <but@example.com>');
    $s->to('<a@example.com> <b@example.com>');
    $s->to('"Joe" <joe@example.com> <other@example.com>');
    $s->to("<c\@example.com>\n");
    $s->reset;
    $s->mail('');
    $s->reset;
    $s->mail(undef);
    $s->reset;
    $s->quit;
};
$scenario{addresses_dwim_junk} = sub {
    my $s = smtp();
    $s->mail('a@example.org');
    $s->to('joe@example.com (Joe)');
    $s->to('a <b');
    $s->to('<<a>>');
    $s->to('funny user@example.com');
    $s->reset;
    $s->quit;
};
$scenario{addresses_exact} = sub {
    my $s = smtp(ExactAddresses => 1);
    $s->mail('<a@example.org>');
    $s->to('b@example.net');
    $s->to(' <c@example.net> ');
    $s->to('"funny user"@example.com');
    $s->reset;
    $s->mail('');
    $s->reset;
    $s->quit;
};
$scenario{addresses_exact_invalid} = sub {
    my $s = smtp(ExactAddresses => 1);
    $s->mail('a@example.org');
    $s->to('Joe <joe@example.com>');
    $s->to('  user@example.com  ');
    $s->reset;
    $s->quit;
};

# ---- data(), datasend(), dataend(), rawdatasend(), datafh() --------------------------------------
sub transaction { my $s = shift; $s->mail('a@example.org'); $s->to('b@example.net'); }

$scenario{data_list} = sub {
    my $s = smtp();
    transaction($s);
    show(data => $s->data("Subject: list\n", "\n", "line1\n", ".line2\n"));
    $s->quit;
};
$scenario{data_arrayref_dots} = sub {
    my $s = smtp();
    transaction($s);
    show(data => $s->data(["Subject: dots\n\n", ".\n", "..\n", ".a\n", "b.\n"]));
    $s->quit;
};
$scenario{data_refused} = sub {
    my $s = smtp();
    transaction($s);
    show(data => $s->data("never sent\n"), $s->code);
    $s->quit;
};
$scenario{datasend_chunks} = sub {
    my $s = smtp();
    transaction($s);
    $s->data;
    $s->datasend($_) for ("a\r", "\nb", ".c\n", "x\r\n", "\n.y");
    show(dataend => $s->dataend);
    $s->quit;
};
$scenario{datasend_bare_cr} = sub {
    my $s = smtp();
    transaction($s);
    $s->data;
    $s->datasend("a\rb\n");
    $s->datasend("c\r");
    $s->dataend;
    $s->quit;
};
$scenario{datasend_splits} = sub {
    my $s = smtp();
    transaction($s);
    $s->data;
    $s->datasend($_) for ("line\r", "\n.dot\n", "end\n", ".");
    $s->dataend;
    $s->quit;
};
$scenario{datasend_lists} = sub {
    my $s = smtp();
    transaction($s);
    $s->data;
    $s->datasend();
    $s->datasend(["a\n", ".b\n"]);
    $s->datasend("c\n", ".d\n");
    show(dataend => $s->dataend);
    show(dataend_again => $s->dataend);
    $s->quit;
};
$scenario{rawdatasend} = sub {
    my $s = smtp();
    transaction($s);
    $s->data;
    $s->datasend("x\n");
    $s->rawdatasend("raw\r\n..not stuffed\r\n");
    $s->dataend;
    $s->quit;
};
$scenario{rawdatasend_partial} = sub {
    my $s = smtp(Timeout => 1);    # no server sees an end of data in "partial.": do not wait long
    transaction($s);
    $s->data;
    $s->rawdatasend("partial");
    $s->dataend;
    $s->quit;
};
$scenario{datafh} = sub {
    my $s = smtp();
    transaction($s);
    my $fh = $s->datafh;
    print $fh "line1\n";
    print $fh ".line2\n";
    show(close => close $fh);
    $s->quit;
};
$scenario{data_phase_command} = sub {
    my $s = smtp();
    transaction($s);
    $s->data;
    $s->datasend("partial");
    show(reset => $s->reset);
    $s->quit;
};

# ---- other commands -----------------------------------------------------------------------------
$scenario{expand_verify_help} = sub {
    my $s = smtp();
    show(expand => $s->expand('list'));
    show(verify => $s->verify('user@example.org'));
    show(verify2 => $s->verify('Joe <joe@example.org>'));
    show(help => $s->help);
    show(help_mail => $s->help('MAIL'));
    $s->quit;
};
$scenario{etrn} = sub {
    my $s = smtp();
    show(etrn => $s->etrn('example.org'));
    show(etrn2 => $s->etrn('@example.net'));
    $s->quit;
};
$scenario{etrn_not_advertised} = sub {
    my $s = smtp();
    show(etrn => $s->etrn('example.org'), $s->code);
    $s->quit;
};
$scenario{command_response} = sub {
    my $s = smtp();
    show(noop => $s->command('NOOP')->response);
    show(xtest => $s->command('XTEST', 'a b', 'c')->response, $s->code);
    show(help => $s->command('HELP')->response, $s->message);
    $s->quit;
};
$scenario{command_injection} = sub {
    my $s = smtp();
    show(noop => $s->command('NOOP', "c\nd")->response);
    show(mail => $s->mail("x\r\@example.org"));
    $s->reset;
    $s->quit;
};
$scenario{long_command_line} = sub {
    my $s = smtp();
    show(verify => $s->verify('x' x 600));
    $s->quit;
};
$scenario{timeout_closes} = sub {
    my $s = smtp(Timeout => 1);
    show(verify => $s->verify('slow@example.org'), $s->code, $s->message);
    show(quit => $s->quit);
};
$scenario{quit_refused} = sub {
    my $s = smtp();
    show(quit => $s->quit);
};

# ---- auth() -----------------------------------------------------------------------------------------
$scenario{auth_default} = sub {
    my $s = smtp();
    show(auth => $s->auth('user', 'secret'));
    $s->quit;
};
$scenario{auth_plain} = $scenario{auth_default};
$scenario{auth_login} = $scenario{auth_default};
$scenario{auth_sasl_object} = sub {
    my $s = smtp();
    my $sasl = Authen::SASL->new(mechanism => 'LOGIN',
                                 callback => { user => 'user', pass => 'secret', authname => 'user' });
    show(auth => $s->auth($sasl));
    $s->quit;
};
$scenario{auth_bad_password} = sub {
    my $s = smtp();
    show(auth => $s->auth('user', 'wrong'), $s->code);
    $s->quit;
};
$scenario{auth_not_advertised} = sub {
    my $s = smtp();
    show(auth => $s->auth('user', 'secret'), $s->code);
    $s->quit;
};
$scenario{auth_after_starttls} = sub {
    my $s = smtp();
    $s->starttls(SSL_ca_file => $CA);
    show(auth => $s->auth('user', 'secret'));
    $s->mail('a@example.org');
    $s->quit;
};

if (defined $NAME && $NAME eq '--list') {
    print "$_\n" for sort keys %scenario;
    exit 0;
}
die "usage: $0 SCENARIO HOST:PORT CAFILE | --list\n" unless defined $HOST;
my $run = $scenario{$NAME} or die "unknown scenario $NAME\n";
eval { $run->(); 1 } or print "died: $@";
exit 0;
