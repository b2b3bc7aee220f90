package overlay

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The custom resources the components use, reduced to the fields they set. Decoding is strict,
// so a field these types do not list fails the check: a misspelling, or a field the manifests
// started using without the check learning about it (add it here, with its meaning).

// Cluster is a CloudNativePG PostgreSQL cluster (postgresql.cnpg.io/v1).
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ClusterSpec `json:"spec"`
}

// ClusterSpec is the part of the Cluster spec the components use.
type ClusterSpec struct {
	Instances             int                         `json:"instances"`
	ImageName             string                      `json:"imageName,omitempty"`
	PrimaryUpdateStrategy string                      `json:"primaryUpdateStrategy,omitempty"`
	Affinity              *ClusterAffinity            `json:"affinity,omitempty"`
	PostgreSQL            *PostgresConfiguration      `json:"postgresql,omitempty"`
	Bootstrap             *BootstrapConfiguration     `json:"bootstrap,omitempty"`
	Managed               *ManagedConfiguration       `json:"managed,omitempty"`
	Storage               StorageConfiguration        `json:"storage"`
	WalStorage            *StorageConfiguration       `json:"walStorage,omitempty"`
	Resources             corev1.ResourceRequirements `json:"resources,omitempty"`
	Plugins               []PluginConfiguration       `json:"plugins,omitempty"`
	// ExternalClusters name other clusters' backups, the source of a recovery
	// (docs/deploy.md, "Backups and restore").
	ExternalClusters []ExternalCluster `json:"externalClusters,omitempty"`
}

// ExternalCluster is another cluster, reached here through its backups in an object store.
type ExternalCluster struct {
	Name   string               `json:"name"`
	Plugin *PluginConfiguration `json:"plugin,omitempty"`
}

// ClusterAffinity spreads the instances.
type ClusterAffinity struct {
	EnablePodAntiAffinity *bool  `json:"enablePodAntiAffinity,omitempty"`
	TopologyKey           string `json:"topologyKey,omitempty"`
	PodAntiAffinityType   string `json:"podAntiAffinityType,omitempty"`
}

// PostgresConfiguration holds postgresql.conf parameters.
type PostgresConfiguration struct {
	Parameters map[string]string `json:"parameters,omitempty"`
	// Synchronous makes commits wait for standbys (CloudNativePG 1.24 and later).
	Synchronous *SynchronousReplicaConfiguration `json:"synchronous,omitempty"`
}

// SynchronousReplicaConfiguration is how many standbys confirm each commit, and what happens
// when fewer are there.
type SynchronousReplicaConfiguration struct {
	// Method is "any" (quorum: any Number of the standbys) or "first" (priority).
	Method string `json:"method"`
	Number int    `json:"number"`
	// DataDurability "required" (default) blocks writes while fewer standbys are there;
	// "preferred" lets them through unreplicated.
	DataDurability string `json:"dataDurability,omitempty"`
}

// BootstrapConfiguration says how the cluster starts: empty (initdb) or from a backup.
type BootstrapConfiguration struct {
	InitDB   *BootstrapInitDB   `json:"initdb,omitempty"`
	Recovery *BootstrapRecovery `json:"recovery,omitempty"`
}

// BootstrapRecovery starts the cluster from an external cluster's backups, up to a target.
type BootstrapRecovery struct {
	Source         string          `json:"source"`
	RecoveryTarget *RecoveryTarget `json:"recoveryTarget,omitempty"`
}

// RecoveryTarget is the moment to recover to; none means the end of the archived WAL.
type RecoveryTarget struct {
	TargetTime string `json:"targetTime,omitempty"`
}

// BootstrapInitDB creates a fresh cluster with one database and its owner.
type BootstrapInitDB struct {
	Database string                       `json:"database"`
	Owner    string                       `json:"owner"`
	Secret   *corev1.LocalObjectReference `json:"secret,omitempty"`
}

// ManagedConfiguration holds the roles the operator keeps in line with the spec.
type ManagedConfiguration struct {
	Roles []RoleConfiguration `json:"roles,omitempty"`
}

// RoleConfiguration is one managed PostgreSQL role.
type RoleConfiguration struct {
	Name           string                       `json:"name"`
	Ensure         string                       `json:"ensure,omitempty"`
	Login          bool                         `json:"login,omitempty"`
	PasswordSecret *corev1.LocalObjectReference `json:"passwordSecret,omitempty"`
}

// StorageConfiguration sizes a volume.
type StorageConfiguration struct {
	Size         string  `json:"size"`
	StorageClass *string `json:"storageClass,omitempty"`
}

// PluginConfiguration enables a CNPG-I plugin (the Barman Cloud plugin for backups).
type PluginConfiguration struct {
	Name          string            `json:"name"`
	IsWALArchiver *bool             `json:"isWALArchiver,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
}

// Database is a database in a Cluster, declared (postgresql.cnpg.io/v1).
type Database struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              DatabaseSpec `json:"spec"`
}

// DatabaseSpec names the database, its owner and cluster.
type DatabaseSpec struct {
	Name                  string                      `json:"name"`
	Owner                 string                      `json:"owner"`
	Cluster               corev1.LocalObjectReference `json:"cluster"`
	DatabaseReclaimPolicy string                      `json:"databaseReclaimPolicy,omitempty"`
}

// ScheduledBackup takes base backups on a schedule (postgresql.cnpg.io/v1).
type ScheduledBackup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ScheduledBackupSpec `json:"spec"`
}

// ScheduledBackupSpec is the schedule, the cluster and how to back it up.
type ScheduledBackupSpec struct {
	// Schedule has six fields, seconds first.
	Schedule             string                      `json:"schedule"`
	Immediate            *bool                       `json:"immediate,omitempty"`
	BackupOwnerReference string                      `json:"backupOwnerReference,omitempty"`
	Cluster              corev1.LocalObjectReference `json:"cluster"`
	Method               string                      `json:"method,omitempty"`
	PluginConfiguration  *BackupPluginConfiguration  `json:"pluginConfiguration,omitempty"`
}

// BackupPluginConfiguration names the plugin that takes the backup.
type BackupPluginConfiguration struct {
	Name string `json:"name"`
}

// ObjectStore is where the Barman Cloud plugin keeps backups and WAL (barmancloud.cnpg.io/v1).
type ObjectStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ObjectStoreSpec `json:"spec"`
}

// ObjectStoreSpec configures barman-cloud and the retention.
type ObjectStoreSpec struct {
	RetentionPolicy string                  `json:"retentionPolicy,omitempty"`
	Configuration   BarmanObjectStoreConfig `json:"configuration"`
}

// BarmanObjectStoreConfig is barman-cloud's S3 configuration.
type BarmanObjectStoreConfig struct {
	DestinationPath string            `json:"destinationPath"`
	EndpointURL     string            `json:"endpointURL,omitempty"`
	S3Credentials   *S3Credentials    `json:"s3Credentials,omitempty"`
	Wal             *WalBackupConfig  `json:"wal,omitempty"`
	Data            *DataBackupConfig `json:"data,omitempty"`
}

// S3Credentials names the Secret keys holding the access key pair.
type S3Credentials struct {
	AccessKeyID     SecretKeySelector `json:"accessKeyId"`
	SecretAccessKey SecretKeySelector `json:"secretAccessKey"`
}

// SecretKeySelector is a key of a Secret in the same namespace.
type SecretKeySelector struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// WalBackupConfig configures WAL archiving.
type WalBackupConfig struct {
	Compression string `json:"compression,omitempty"`
	// Encryption is the object store's server-side encryption: AES256 or aws:kms.
	Encryption  string `json:"encryption,omitempty"`
	MaxParallel int    `json:"maxParallel,omitempty"`
}

// DataBackupConfig configures base backups.
type DataBackupConfig struct {
	Compression string `json:"compression,omitempty"`
	// Encryption is the object store's server-side encryption: AES256 or aws:kms.
	Encryption string `json:"encryption,omitempty"`
	Jobs       int    `json:"jobs,omitempty"`
}

// Certificate is a cert-manager certificate (cert-manager.io/v1).
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              CertificateSpec `json:"spec"`
}

// CertificateSpec is the part of a Certificate's spec the manifests set.
type CertificateSpec struct {
	SecretName  string                 `json:"secretName"`
	IssuerRef   IssuerReference        `json:"issuerRef"`
	CommonName  string                 `json:"commonName,omitempty"`
	DNSNames    []string               `json:"dnsNames,omitempty"`
	Usages      []string               `json:"usages,omitempty"`
	Duration    string                 `json:"duration,omitempty"`
	RenewBefore string                 `json:"renewBefore,omitempty"`
	IsCA        bool                   `json:"isCA,omitempty"`
	PrivateKey  *CertificatePrivateKey `json:"privateKey,omitempty"`
}

// IssuerReference names the Issuer or ClusterIssuer that signs a Certificate.
type IssuerReference struct {
	Name  string `json:"name"`
	Kind  string `json:"kind,omitempty"`
	Group string `json:"group,omitempty"`
}

// CertificatePrivateKey says what key to generate.
type CertificatePrivateKey struct {
	Algorithm      string `json:"algorithm,omitempty"`
	Size           int    `json:"size,omitempty"`
	RotationPolicy string `json:"rotationPolicy,omitempty"`
}

// Issuer is a cert-manager Issuer or ClusterIssuer (cert-manager.io/v1).
type Issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              IssuerSpec `json:"spec"`
}

// IssuerSpec is a self-signed or a CA issuer.
type IssuerSpec struct {
	SelfSigned *struct{} `json:"selfSigned,omitempty"`
	CA         *CAIssuer `json:"ca,omitempty"`
}

// CAIssuer signs with the key pair in a Secret.
type CAIssuer struct {
	SecretName string `json:"secretName"`
}

// Bundle is trust-manager's trust bundle (trust.cert-manager.io/v1alpha1): certificates from
// its sources, written as one file into a ConfigMap of every namespace. The pods trust the
// internal CA through it, so that during a replacement of the CA it holds both.
type Bundle struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              BundleSpec `json:"spec"`
}

// BundleSpec is where the certificates come from and where they go.
type BundleSpec struct {
	Sources []BundleSource `json:"sources"`
	Target  BundleTarget   `json:"target"`
}

// BundleSource is one source: a key of a Secret or ConfigMap in trust-manager's namespace, or
// certificates written in place.
type BundleSource struct {
	Secret    *BundleKeyRef `json:"secret,omitempty"`
	ConfigMap *BundleKeyRef `json:"configMap,omitempty"`
	InLine    string        `json:"inLine,omitempty"`
}

// BundleKeyRef names an object and one of its keys.
type BundleKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// BundleTarget is the ConfigMap key the bundle is written to, in the Bundle's name.
type BundleTarget struct {
	ConfigMap *struct {
		Key string `json:"key"`
	} `json:"configMap,omitempty"`
}
