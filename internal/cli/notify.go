package cli

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/webhook"
)

// The settings of a service that notifies residents (suite.Spec.Notifies), and of `jiayuan dev`.
const (
	flagNotifyURL      = "notify-webhook-url"
	flagNotifySecret   = "notify-webhook-secret-file"
	flagNotifyQuiet    = "notify-quiet-hours"
	flagNotifyAttempts = "notify-max-attempts"
	flagNotifyCA       = "notify-webhook-ca"
	maxNotifyAttempts  = 50
)

// notifyFlags are how notifications reach residents: the district's messaging gateway behind a
// signed webhook (docs/notifications.md), quiet hours, and how many tries.
type notifyFlags struct {
	url, secretFile, quiet, ca *string
	attempts                   *int
	// dev accepts an http webhook on a loopback address (`jiayuan dev`); a production start
	// refuses any webhook that is not https.
	dev bool
}

// register declares the flags; s, when not nil, describes them for the deploy checks.
func (f *notifyFlags) register(fs *config.FlagSet, s *Settings) {
	f.url = fs.String(flagNotifyURL, "", "the district's messaging gateway (SMS or WeChat service account): the https URL notifications to residents\n"+
		"are POSTed to, signed (docs/notifications.md). Empty: they are written to the log, phone numbers masked, and not sent")
	f.secretFile = fs.String(flagNotifySecret, "", "file holding the secret shared with the messaging gateway that signs every call (at least 16 bytes;\n"+
		"surrounding whitespace ignored); a Kubernetes Secret mounted as a file. Required with --"+flagNotifyURL)
	f.quiet = fs.String(flagNotifyQuiet, "22:00-07:00", `when notifications that are not urgent are held until morning, "HH:MM-HH:MM" in China Standard Time, or "off"`)
	f.attempts = fs.Int(flagNotifyAttempts, 8, "how many times a notification is tried (with growing waits between) before it is recorded failed")
	f.ca = fs.String(flagNotifyCA, "", "PEM file of the CA the messaging gateway's certificate chains to, when it is not a public one (a gateway on\n"+
		"the district's network with the district's own CA); empty: the system's roots")
	if s != nil {
		s.files(flagNotifySecret, flagNotifyCA)
	}
}

// check reports the invalid settings after Parse.
func (f *notifyFlags) check(p *config.Problems) {
	if u := strings.TrimSpace(*f.url); u != "" {
		p.Check(flagNotifyURL, webhook.CheckURL(u, f.dev))
		if strings.TrimSpace(*f.secretFile) == "" {
			p.Addf(flagNotifySecret, "must be set with --%s: every call to the gateway is signed", flagNotifyURL)
		}
	} else if strings.TrimSpace(*f.ca) != "" {
		p.Addf(flagNotifyCA, "is only for --%s, which is not set", flagNotifyURL)
	}
	if _, err := calendar.ParseQuietHours(*f.quiet); err != nil {
		p.Check(flagNotifyQuiet, err)
	}
	if *f.attempts < 1 || *f.attempts > maxNotifyAttempts {
		p.Addf(flagNotifyAttempts, "%d: want 1 to %d", *f.attempts, maxNotifyAttempts)
	}
}

// load reads the secret file and returns the settings, an error naming the setting.
func (f *notifyFlags) load() (suite.Notify, error) {
	n := suite.Notify{WebhookURL: strings.TrimSpace(*f.url), QuietHours: *f.quiet, MaxAttempts: *f.attempts, AllowLoopbackHTTP: f.dev}
	if n.WebhookURL == "" {
		return n, nil
	}
	data, err := os.ReadFile(*f.secretFile)
	if err != nil {
		return suite.Notify{}, &config.SettingError{Flag: flagNotifySecret, Err: errors.New("cannot read the file")}
	}
	n.WebhookSecret = bytes.TrimSpace(data)
	if len(n.WebhookSecret) < webhook.MinSecretLen {
		return suite.Notify{}, &config.SettingError{Flag: flagNotifySecret,
			Err: fmt.Errorf("the secret is %d bytes, want at least %d", len(n.WebhookSecret), webhook.MinSecretLen)}
	}
	if path := strings.TrimSpace(*f.ca); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return suite.Notify{}, &config.SettingError{Flag: flagNotifyCA, Err: errors.New("cannot read the file")}
		}
		n.WebhookRoots = x509.NewCertPool()
		if !n.WebhookRoots.AppendCertsFromPEM(pem) {
			return suite.Notify{}, &config.SettingError{Flag: flagNotifyCA, Err: errors.New("holds no PEM certificate")}
		}
	}
	return n, nil
}
