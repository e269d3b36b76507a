#!/usr/bin/perl
# Perl's Net::SMTP as a throughput.py client: for every message MAIL, RCPT (each
# recipient), DATA, datasend, dataend; QUIT at the end. Prints one JSON line: wall and CPU
# seconds from connect to the end of QUIT, and the peak RSS (VmHWM) in KiB.
#
#   perl net_smtp.pl PORT RECORDS_FILE FROM RCPT...   # messages as "<length>\n<bytes>" records
#   perl net_smtp.pl PORT --whole FILE FROM RCPT...   # the file is one message
use strict;
use warnings;
use Net::SMTP;
use Time::HiRes qw(time);

my $port = shift @ARGV;
my @messages;
if ($ARGV[0] eq '--whole') {
    shift @ARGV;
    my $path = shift @ARGV;
    open(my $fh, '<:raw', $path) or die "$path: $!\n";
    local $/;
    push @messages, scalar <$fh>;
    close $fh;
} else {
    my $path = shift @ARGV;
    open(my $fh, '<:raw', $path) or die "$path: $!\n";
    while (defined(my $len = <$fh>)) {
        chomp $len;
        my $got = read($fh, my $buf, $len);
        die "short record in $path\n" unless defined $got && $got == $len;
        push @messages, $buf;
    }
    close $fh;
}
my ($from, @rcpts) = @ARGV;

my @cpu0 = times;
my $wall0 = time;
my $smtp = Net::SMTP->new("127.0.0.1", Port => $port, Hello => "bench.example.org", Timeout => 30)
    or die "connect failed: $@\n";
my $n = 0;
for my $msg (@messages) {
    $smtp->mail($from) && $smtp->to(@rcpts) && $smtp->data()
        && $smtp->datasend($msg) && $smtp->dataend()
        or die "message $n refused: " . $smtp->code . " " . $smtp->message;
    $n++;
}
$smtp->quit or die "QUIT refused\n";
my $wall = time - $wall0;
my @cpu1 = times;
my $cpu = ($cpu1[0] + $cpu1[1]) - ($cpu0[0] + $cpu0[1]);

my $hwm = 0;
if (open(my $status, '<', "/proc/self/status")) {
    while (<$status>) { $hwm = $1 if /^VmHWM:\s+(\d+)/ }
    close $status;
}
printf "{\"wall\": %.6f, \"cpu\": %.3f, \"maxrss_kb\": %d}\n", $wall, $cpu, $hwm;
