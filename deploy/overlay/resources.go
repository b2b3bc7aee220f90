package overlay

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// postgres checks the CloudNativePG resources against each other and against the services that
// connect to them.
func (c *checker) postgres() {
	for _, cl := range c.clusters {
		where := fmt.Sprintf("Cluster %s/%s", cl.Namespace, cl.Name)
		s := cl.Spec
		if s.Instances < 2 {
			c.problem("%s: instances %d: at least 2 (a primary and a standby) for high availability", where, s.Instances)
		}
		// Asynchronous standbys lose the last commits on failover: what a resident was told
		// was saved. A quorum of one standby confirms every commit.
		var sync *SynchronousReplicaConfiguration
		if s.PostgreSQL != nil {
			sync = s.PostgreSQL.Synchronous
		}
		switch {
		case sync == nil || sync.Number < 1:
			c.problem("%s: postgresql.synchronous: commits are not confirmed by a standby, so a failover loses the last ones: set {method: any, number: 1} (docs/deploy.md, \"Replication\")", where)
		case sync.Method != "any" && sync.Method != "first":
			c.problem("%s: postgresql.synchronous.method %q: any or first", where, sync.Method)
		case sync.Number > s.Instances-1:
			c.problem("%s: postgresql.synchronous.number %d: only %d standbys", where, sync.Number, s.Instances-1)
		case sync.DataDurability != "" && sync.DataDurability != "required" && sync.DataDurability != "preferred":
			c.problem("%s: postgresql.synchronous.dataDurability %q: required or preferred", where, sync.DataDurability)
		}
		// imageName is checked with every other image field (images.go).
		if _, err := resource.ParseQuantity(s.Storage.Size); err != nil {
			c.problem("%s: storage.size %q: %v", where, s.Storage.Size, err)
		}
		if s.WalStorage != nil {
			if _, err := resource.ParseQuantity(s.WalStorage.Size); err != nil {
				c.problem("%s: walStorage.size %q: %v", where, s.WalStorage.Size, err)
			}
		}
		if s.Resources.Requests.Memory().IsZero() || s.Resources.Limits.Memory().IsZero() {
			c.problem("%s: resources: set requests and limits", where)
		}
		if b := s.Bootstrap; b != nil && b.InitDB != nil && b.InitDB.Secret != nil {
			c.secretRef(where+": bootstrap.initdb.secret", cl.Namespace, b.InitDB.Secret.Name, "password")
		}
		if b := s.Bootstrap; b != nil && b.Recovery != nil {
			src := b.Recovery.Source
			i := slices.IndexFunc(s.ExternalClusters, func(e ExternalCluster) bool { return e.Name == src })
			switch {
			case i < 0:
				c.problem("%s: bootstrap.recovery.source %q: no such externalClusters entry", where, src)
			case s.ExternalClusters[i].Plugin == nil || c.stores[key(cl.Namespace, s.ExternalClusters[i].Plugin.Parameters["barmanObjectName"])] == nil:
				c.problem("%s: externalClusters %s: name an ObjectStore of the overlay (plugin parameters.barmanObjectName)", where, src)
			default:
				// Recovering and archiving under one server name would write the new timeline's WAL
				// over the backups being recovered from.
				from := s.ExternalClusters[i].Plugin.Parameters["serverName"]
				for _, p := range s.Plugins {
					if p.IsWALArchiver != nil && *p.IsWALArchiver && archiveName(cl, p) == from {
						c.problem("%s: recovers from and archives to server name %q: give plugins[].parameters.serverName a new name", where, from)
					}
				}
			}
		}
		if s.Managed != nil {
			for _, r := range s.Managed.Roles {
				if r.PasswordSecret != nil {
					c.secretRef(fmt.Sprintf("%s: managed role %s", where, r.Name), cl.Namespace, r.PasswordSecret.Name, "password")
				}
			}
		}
		archiver := false
		for _, p := range s.Plugins {
			if p.IsWALArchiver != nil && *p.IsWALArchiver {
				archiver = true
			}
			if n, ok := p.Parameters["barmanObjectName"]; ok && c.stores[key(cl.Namespace, n)] == nil {
				c.problem("%s: plugin %s: ObjectStore %s is not in the overlay", where, p.Name, n)
			}
		}
		if !archiver {
			c.problem("%s: no plugin archives WAL: point-in-time recovery needs it", where)
		}
		if !slices.ContainsFunc(c.backups, func(b *ScheduledBackup) bool {
			return b.Namespace == cl.Namespace && b.Spec.Cluster.Name == cl.Name
		}) {
			c.problem("%s: no ScheduledBackup takes base backups of it", where)
		}
	}
	for _, db := range c.databases {
		where := fmt.Sprintf("Database %s/%s", db.Namespace, db.Name)
		cl := c.clusters[key(db.Namespace, db.Spec.Cluster.Name)]
		if cl == nil {
			c.problem("%s: Cluster %s is not in the overlay", where, db.Spec.Cluster.Name)
			continue
		}
		if !c.roleOf(cl, db.Spec.Owner) {
			c.problem("%s: owner %s is neither the bootstrap owner nor a managed role of Cluster %s", where, db.Spec.Owner, cl.Name)
		}
		if p := db.Spec.DatabaseReclaimPolicy; p != "" && p != "retain" && p != "delete" {
			c.problem("%s: databaseReclaimPolicy %q: retain or delete", where, p)
		}
	}
	sixFields := regexp.MustCompile(`^(\S+\s+){5}\S+$`)
	for _, b := range c.backups {
		where := fmt.Sprintf("ScheduledBackup %s/%s", b.Namespace, b.Name)
		cl := c.clusters[key(b.Namespace, b.Spec.Cluster.Name)]
		if cl == nil {
			c.problem("%s: Cluster %s is not in the overlay", where, b.Spec.Cluster.Name)
			continue
		}
		if !sixFields.MatchString(b.Spec.Schedule) {
			c.problem("%s: schedule %q: six fields, seconds first", where, b.Spec.Schedule)
		}
		switch b.Spec.Method {
		case "plugin":
			if b.Spec.PluginConfiguration == nil || !slices.ContainsFunc(cl.Spec.Plugins, func(p PluginConfiguration) bool {
				return p.Name == b.Spec.PluginConfiguration.Name
			}) {
				c.problem("%s: method plugin: name a plugin Cluster %s enables", where, cl.Name)
			}
		case "barmanObjectStore", "volumeSnapshot":
		default:
			c.problem("%s: method %q: plugin, barmanObjectStore or volumeSnapshot", where, b.Spec.Method)
		}
	}
	retention := regexp.MustCompile(`^[1-9][0-9]*[dwm]$`)
	for _, s := range c.stores {
		where := fmt.Sprintf("ObjectStore %s/%s", s.Namespace, s.Name)
		if s.Spec.RetentionPolicy != "" && !retention.MatchString(s.Spec.RetentionPolicy) {
			c.problem("%s: retentionPolicy %q: e.g. 30d, 8w, 6m", where, s.Spec.RetentionPolicy)
		}
		cfg := s.Spec.Configuration
		if !strings.HasPrefix(cfg.DestinationPath, "s3://") {
			c.problem("%s: destinationPath %q: want s3://bucket/path", where, cfg.DestinationPath)
		}
		if u, err := url.Parse(cfg.EndpointURL); cfg.EndpointURL != "" && (err != nil || u.Scheme != "https") {
			c.problem("%s: endpointURL %q: want https", where, cfg.EndpointURL)
		}
		// The backups hold every resident's data (sealed personal fields aside): encrypted at
		// rest in the bucket, WAL and base backups alike.
		for _, e := range []struct{ what, enc string }{{"wal", walEncryption(cfg)}, {"data", dataEncryption(cfg)}} {
			if e.enc != "AES256" && e.enc != "aws:kms" {
				c.problem("%s: configuration.%s.encryption %q: AES256 or aws:kms, so backups are encrypted at rest", where, e.what, e.enc)
			}
		}
		if cr := cfg.S3Credentials; cr != nil {
			c.secretRef(where+": s3Credentials.accessKeyId", s.Namespace, cr.AccessKeyID.Name, cr.AccessKeyID.Key)
			c.secretRef(where+": s3Credentials.secretAccessKey", s.Namespace, cr.SecretAccessKey.Name, cr.SecretAccessKey.Key)
		} else {
			c.problem("%s: no s3Credentials", where)
		}
	}
	// A service connecting to a cluster of the overlay (host <cluster>-rw) must find its
	// database there, owned by the role it connects as.
	for _, d := range c.deployments {
		for _, ctr := range append(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers...) {
			for _, e := range ctr.Env {
				if e.Name != "JIAYUAN_DB_URL" || e.ValueFrom != nil {
					continue
				}
				u, err := url.Parse(e.Value)
				if err != nil {
					continue
				}
				name, isRW := strings.CutSuffix(u.Hostname(), "-rw")
				cl := c.clusters[key(d.Namespace, name)]
				if !isRW || cl == nil {
					continue
				}
				dbName, user := strings.TrimPrefix(u.Path, "/"), u.User.Username()
				if !slices.ContainsFunc(c.databases, func(db *Database) bool {
					return db.Namespace == d.Namespace && db.Spec.Cluster.Name == cl.Name && db.Spec.Name == dbName && db.Spec.Owner == user
				}) {
					c.problem("Deployment %s/%s: container %s connects to database %q as %q on Cluster %s, which has no Database %q owned by %q",
						d.Namespace, d.Name, ctr.Name, dbName, user, cl.Name, dbName, user)
				}
			}
		}
	}
}

// archiveName is the server name a plugin archives the cluster under (the cluster's name unless
// set).
func archiveName(cl *Cluster, p PluginConfiguration) string {
	if n := p.Parameters["serverName"]; n != "" {
		return n
	}
	return cl.Name
}

func (c *checker) roleOf(cl *Cluster, role string) bool {
	if b := cl.Spec.Bootstrap; b != nil && b.InitDB != nil && b.InitDB.Owner == role {
		return true
	}
	return cl.Spec.Managed != nil && slices.ContainsFunc(cl.Spec.Managed.Roles, func(r RoleConfiguration) bool {
		return r.Name == role && r.Ensure != "absent" && r.Login
	})
}

// certificateUsages are the usages cert-manager accepts that these certificates may need.
var certificateUsages = []string{"digital signature", "key encipherment", "server auth", "client auth", "cert sign", "crl sign"}

func (c *checker) certificates() {
	for _, ct := range c.certs {
		where := fmt.Sprintf("Certificate %s/%s", ct.Namespace, ct.Name)
		s := ct.Spec
		ref := s.IssuerRef
		switch ref.Kind {
		case "ClusterIssuer":
			if c.issuers["/"+ref.Name] == nil && !slices.Contains(c.opts.ClusterIssuers, ref.Name) {
				c.problem("%s: issuerRef: ClusterIssuer %s is neither in the overlay nor one the cluster provides (%v)", where, ref.Name, c.opts.ClusterIssuers)
			}
		case "Issuer", "":
			if c.issuers[key(ct.Namespace, ref.Name)] == nil {
				c.problem("%s: issuerRef: Issuer %s is not in the overlay", where, ref.Name)
			}
		default:
			c.problem("%s: issuerRef.kind %q: Issuer or ClusterIssuer", where, ref.Kind)
		}
		if ref.Group != "" && ref.Group != "cert-manager.io" {
			c.problem("%s: issuerRef.group %q", where, ref.Group)
		}
		var dur, renew time.Duration
		var err error
		if s.Duration != "" {
			if dur, err = time.ParseDuration(s.Duration); err != nil {
				c.problem("%s: duration %q: %v", where, s.Duration, err)
			}
		}
		if s.RenewBefore != "" {
			if renew, err = time.ParseDuration(s.RenewBefore); err != nil {
				c.problem("%s: renewBefore %q: %v", where, s.RenewBefore, err)
			}
		}
		if dur > 0 && renew >= dur {
			c.problem("%s: renewBefore %s is not shorter than duration %s", where, s.RenewBefore, s.Duration)
		}
		for _, u := range s.Usages {
			if !slices.Contains(certificateUsages, u) {
				c.problem("%s: usages: unknown usage %q (want one of %s)", where, u, strings.Join(certificateUsages, ", "))
			}
		}
		if pk := s.PrivateKey; pk != nil {
			if !slices.Contains([]string{"RSA", "ECDSA", "Ed25519"}, pk.Algorithm) {
				c.problem("%s: privateKey.algorithm %q: RSA, ECDSA or Ed25519", where, pk.Algorithm)
			}
			if pk.RotationPolicy != "" && pk.RotationPolicy != "Always" && pk.RotationPolicy != "Never" {
				c.problem("%s: privateKey.rotationPolicy %q: Always or Never", where, pk.RotationPolicy)
			}
		}
		if !s.IsCA && len(s.DNSNames) == 0 && s.CommonName == "" {
			c.problem("%s: no dnsNames", where)
		}
		for _, n := range s.DNSNames {
			parts := strings.Split(n, ".")
			switch {
			case strings.Contains(n, "NAMESPACE"):
				c.problem("%s: dnsNames %q: NAMESPACE was not replaced: the overlay's replacements set it from its Namespace", where, n)
			case len(parts) > 1 && parts[1] != ct.Namespace:
				c.problem("%s: dnsNames %q: the service's full name is in namespace %s", where, n, ct.Namespace)
			case c.service(ct.Namespace, parts[0]) == nil:
				// A name no Service has is no name a caller dials, nor one an allow-list
				// (JIAYUAN_TLS_CLIENT_NAMES) can tell apart: a component renamed by nameSuffix
				// keeps the names it was written with.
				c.problem("%s: dnsNames %q: no Service %s in namespace %s", where, n, parts[0], ct.Namespace)
			}
		}
	}
	// cert-manager writes each Certificate's key pair into its Secret: two Certificates naming
	// one Secret overwrite each other's, and the pods mounting it get either.
	bySecret := map[string]*Certificate{}
	for _, ct := range c.certs {
		k := key(ct.Namespace, ct.Spec.SecretName)
		if other := bySecret[k]; other != nil {
			c.problem("Certificate %s/%s: secretName %s is also Certificate %s's: give each its own (secretName is not renamed by nameSuffix)",
				ct.Namespace, ct.Name, ct.Spec.SecretName, other.Name)
			continue
		}
		bySecret[k] = ct
	}
}

func walEncryption(c BarmanObjectStoreConfig) string {
	if c.Wal == nil {
		return ""
	}
	return c.Wal.Encryption
}

func dataEncryption(c BarmanObjectStoreConfig) string {
	if c.Data == nil {
		return ""
	}
	return c.Data.Encryption
}
