#!/usr/bin/perl
# dnsdelay.pl - a UDP DNS relay for the fault tests: listens on
# 127.0.0.1:PORT, passes each query to 127.0.0.1:UPSTREAM (nsd) and
# sends the answer back after a delay. MODEFILE holds the delay in
# seconds ("0": at once), or "drop" (never answer); it is read again
# for every query, so a test switches modes without a restart.
#
#   dnsdelay.pl PORT UPSTREAM MODEFILE
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

my ($port, $upstream, $modefile) = @ARGV;
die "usage: dnsdelay.pl PORT UPSTREAM MODEFILE\n" unless defined $modefile;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'udp')
    or die "dnsdelay: bind 127.0.0.1:$port: $!\n";
my $sel = IO::Select->new($srv);
my %pending;		# upstream socket => [client address, delay]
my @out;		# [when, client address, answer], soonest first
$| = 1;
print "dnsdelay: listening on 127.0.0.1:$port\n";

sub mode {
	my $m = '0';
	if (open(my $f, '<', $modefile)) {
		$m = <$f> // '0';
		close $f;
	}
	chomp $m;
	return $m;
}

for (;;) {
	my $wait = @out ? $out[0][0] - time : 1;
	$wait = 0 if $wait < 0;
	for my $s ($sel->can_read($wait)) {
		if ($s == $srv) {
			my $peer = $srv->recv(my $q, 4096);
			next unless defined $peer;
			my $m = mode();
			next if $m eq 'drop';
			my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $upstream,
			    Proto => 'udp') or next;
			$u->send($q);
			$pending{$u} = [$peer, $m + 0];
			$sel->add($u);
		} else {
			$s->recv(my $r, 65535);
			my $p = delete $pending{$s};
			$sel->remove($s);
			close $s;
			next unless defined $p && defined $r;
			push @out, [time + $p->[1], $p->[0], $r];
			@out = sort { $a->[0] <=> $b->[0] } @out;
		}
	}
	while (@out && $out[0][0] <= time) {
		my $o = shift @out;
		$srv->send($o->[2], 0, $o->[1]);
	}
}
