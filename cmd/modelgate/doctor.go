package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/modelgate/modelgate/doctor"
	"github.com/modelgate/modelgate/presign"
)

// runDoctor implements "modelgate doctor": it checks the credentials and
// the bucket with the flags of serve, prints one line per check, and
// returns 0 when no check failed.
func runDoctor(args []string, stdout, stderr io.Writer,
	getenv func(string) string, environ []string,
) int {
	var o serveOptions
	fs := newFlagSet("doctor", "Check the credentials and the bucket "+
		"that serve would use: identity, role session, region, "+
		"listing, a pre-signed read, clock skew, default encryption, "+
		"and that writes and deletes are denied (proven without "+
		"changing the bucket). Takes the same flags as serve. Exits 0 "+
		"when no check fails; warnings do not fail.", stderr)
	o.register(fs)
	var timeout time.Duration
	durationVar(fs, &timeout, "doctor-timeout", 2*time.Minute,
		time.Second, math.MaxInt64, "1s or longer",
		"deadline for all checks together")
	if err := parseFlags(fs, args, getenv); err != nil {
		return exitCodeFor(stderr, "doctor", err)
	}
	if err := o.validate(); err != nil {
		return exitCodeFor(stderr, "doctor", err)
	}
	printUnknownEnv(stderr, fs, environ)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	results, err := diagnose(ctx, &o)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate doctor: %v\n", err)
		return 2
	}
	doctor.Print(stdout, results)
	if !doctor.OK(results) {
		fmt.Fprintln(stdout, "modelgate doctor: some checks failed")
		return 1
	}
	fmt.Fprintln(stdout, "modelgate doctor: all checks passed")
	return 0
}

// diagnose builds the clients serve would use and runs the checks.
func diagnose(ctx context.Context, o *serveOptions) ([]doctor.Result,
	error,
) {
	awsCfg, provider, err := presign.LoadAWS(ctx, o.aws)
	if err != nil {
		return nil, err
	}
	o.signer.Logger = slog.New(slog.DiscardHandler)
	signer, err := presign.NewSigner(o.signer, provider)
	if err != nil {
		return nil, err
	}
	return doctor.Run(ctx, doctor.Config{
		Bucket: o.bucket, Root: o.root, Region: o.aws.Region,
		RoleARN: o.aws.RoleARN, Expiry: o.signer.Expiry,
		Margin: o.signer.Margin,
	}, doctor.Clients{
		Credentials: signer,
		S3:          presign.NewS3Client(awsCfg, o.aws, signer),
		STS:         presign.NewSTSClient(awsCfg, o.aws, signer),
		Signer:      signer,
	}), nil
}
