#!/usr/bin/perl
# Prints "FILE VERDICT" (pass, fail or skip) for each test file named, as
# prove (TAP::Harness) judges it: fail when the file bailed out or has
# problems (failed tests, parse errors, a non-zero exit or a signal), skip
# when its plan skipped it all, pass otherwise. A bail-out is recorded
# instead of ending the run, so every file gets its verdict in one harness.
use strict;
use warnings;
use TAP::Harness;

package BailRecorder;
our @ISA = ('TAP::Harness');
our %bailed;

sub _bailout {
    my ( $self, $result, $parser, $session, $aggregate, $job ) = @_;
    $bailed{ $job->filename } = 1;
    return;
}

package main;

my $out = shift @ARGV;
my $harness = BailRecorder->new( { verbosity => -3, jobs => 2 } );
my $aggregate = $harness->runtests(@ARGV);
open my $fh, '>', $out or die "unable to write $out: $!\n";
for my $file (@ARGV) {
    my ($parser) = $aggregate->parsers($file);
    my $verdict =
        $BailRecorder::bailed{$file} || $parser->has_problems ? 'fail'
      : $parser->skip_all ? 'skip'
      :                     'pass';
    print {$fh} "$file $verdict\n";
}
close $fh or die "unable to write $out: $!\n";
