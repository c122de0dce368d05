package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/presign"
)

// registerExpiry defines --url-expiry. withRole adds the role session's
// bound to the allowed range in its help.
func (o *serveOptions) registerExpiry(fs *flag.FlagSet, withRole bool) {
	limits := "1m to 168h (7 days, the SigV4 limit)"
	if withRole {
		limits += ", and with --role-arn at most --role-session-duration"
	}
	durationVar(fs, &o.signer.Expiry, "url-expiry", presign.DefaultExpiry,
		presign.MinExpiry, presign.MaxExpiry, limits,
		"lifetime of a pre-signed URL; a URL is cut shorter when the "+
			"signing credentials expire sooner")
}

// registerCredentials defines the flags for credential refreshes, the
// shortest URL lifetime and the start-up write check.
func (o *serveOptions) registerCredentials(fs *flag.FlagSet) {
	durationVar(fs, &o.signer.Margin, "credentials-margin",
		presign.DefaultMargin, time.Second, time.Hour, "1s to 1h",
		"time kept between a URL's expiry and its credentials' expiry, "+
			"for clock skew")
	o.floor = durationVar(fs, &o.signer.Floor, "url-floor",
		presign.DefaultFloor, time.Second, presign.MaxExpiry,
		"1s to --url-expiry",
		"shortest URL lifetime handed out while credentials cannot be "+
			"refreshed; below it downloads get 503 and /readyz fails. "+
			"When not set and longer than --url-expiry, the expiry is used")
	durationVar(fs, &o.signer.RefreshTimeout, "credentials-timeout",
		10*time.Second, time.Second, 10*time.Minute, "1s to 10m",
		"deadline for one retrieval of credentials (STS, instance "+
			"metadata); failed retrievals are retried with backoff")
	fs.BoolVar(&o.allowWrite, "allow-write-credentials", false,
		"start even when the credentials can write to or delete from "+
			"the bucket; logs a warning and sets the metric "+
			"modelgate_write_credentials_allowed to 1")
	durationVar(fs, &o.writeCheckTimeout, "write-check-timeout",
		30*time.Second, time.Second, 10*time.Minute, "1s to 10m",
		"deadline for the start-up check that the credentials cannot "+
			"write; when S3 cannot be reached in time the gateway starts, "+
			"stays not ready and repeats the check in the background")
}

// validateExpiry checks the URL lifetime against the role session, and
// lowers a floor that was left at its default to the expiry.
func (o *serveOptions) validateExpiry() error {
	if err := presign.ValidateExpiry(o.signer.Expiry); err != nil {
		return err
	}
	session := o.aws.SessionDuration
	if session == 0 {
		session = time.Hour
	}
	if o.aws.RoleARN != "" && o.signer.Expiry > session {
		return fmt.Errorf("--url-expiry %v is longer than "+
			"--role-session-duration %v; the allowed range is 1m to the "+
			"session duration, because a URL cannot outlive the session "+
			"that signs it", o.signer.Expiry, session)
	}
	if o.signer.Floor > o.signer.Expiry {
		if o.floor != nil && o.floor.set {
			return fmt.Errorf("--url-floor %v is longer than "+
				"--url-expiry %v; the allowed range is 1s to the expiry",
				o.signer.Floor, o.signer.Expiry)
		}
		o.signer.Floor = o.signer.Expiry
	}
	return nil
}
