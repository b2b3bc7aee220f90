package reporting

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"

	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/yamldoc"
	"github.com/jiayuan/jiayuan/services/reporting/internal/api"
)

// RollupName names the city rollup in configuration, logs and health checks (`jiayuan serve
// reporting-rollup`).
const RollupName = "reporting-rollup"

// MaxRollupDeadline bounds a district's deadline: a caller waits at most this long for the
// city's figures, however many districts hang.
const MaxRollupDeadline = 30 * time.Second

// RollupFile is the city rollup's configuration (rollup.yaml, mounted from a ConfigMap the
// city overlay generates): the city, and for each district its reporting service's address
// and the file holding the token that district's identity provider issued the rollup.
//
//	city: "450100"
//	name: 南宁市
//	deadline: 3s
//	districts:
//	  - code: "450105"
//	    name: 江南区
//	    address: reporting.jiayuan-jiangnan.svc:9090
//	    token_file: /etc/jiayuan/district-tokens/450105
//	    plaintext: false
type RollupFile struct {
	// City is the city's 6-digit code (GB/T 2260, e.g. "450100"): callers of GetCityHeadline
	// hold it in their scope.
	City string `json:"city"`
	// Name is the city's name, e.g. "南宁市".
	Name string `json:"name"`
	// Deadline bounds each district's answer; api.DefaultRollupDeadline when empty.
	Deadline string `json:"deadline,omitempty"`
	// Districts are the districts rolled up, at least one.
	Districts []RollupDistrict `json:"districts"`
}

// RollupDistrict is one district as the rollup reads it.
type RollupDistrict struct {
	// Code is the district's code, the root of its region tree.
	Code string `json:"code"`
	// Name is how the response names it, e.g. "江南区", also when it is missing.
	Name string `json:"name"`
	// Address is its reporting service's gRPC address (host:port).
	Address string `json:"address"`
	// TokenFile holds the rollup's bearer token for this district: a system principal whose
	// scope is the district, issued by the district's own identity provider. Read again when
	// it changes, as a mounted Secret does on rotation.
	TokenFile string `json:"token_file"`
	// Plaintext calls the district without TLS (and its token in the clear): only for a
	// district without mutual TLS, where network policies confine the traffic. Otherwise the
	// rollup verifies the district's certificate and presents its own (--peer-tls-*).
	Plaintext bool `json:"plaintext,omitempty"`
}

// LoadRollup reads and checks the rollup's configuration file.
func LoadRollup(file string) (*RollupFile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseRollup(file, data)
}

// ParseRollup checks a rollup configuration; every problem is reported, each prefixed by
// source.
func ParseRollup(source string, data []byte) (*RollupFile, error) {
	p := yamldoc.New(source)
	var f RollupFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		p.Add("%v", err)
		return nil, p.Err()
	}
	sixDigits := func(code string) bool { return len(code) == 6 && strings.Trim(code, "0123456789") == "" }
	if !sixDigits(f.City) {
		p.Add("city %q: the city's 6-digit code (GB/T 2260), e.g. \"450100\"", f.City)
	}
	if strings.TrimSpace(f.Name) == "" {
		p.Add("name: the city's name, e.g. 南宁市")
	}
	if f.Deadline != "" {
		if d, err := time.ParseDuration(f.Deadline); err != nil || d <= 0 || d > MaxRollupDeadline {
			p.Add("deadline %q: a duration from 1ms to %s, e.g. 3s", f.Deadline, MaxRollupDeadline)
		}
	}
	if len(f.Districts) == 0 {
		p.Add("districts: list at least one district to roll up")
	}
	codes, names := map[string]bool{}, map[string]bool{}
	for i, d := range f.Districts {
		where := fmt.Sprintf("districts[%d]", i)
		switch {
		case !sixDigits(d.Code):
			p.Add("%s.code %q: the district's 6-digit code, e.g. \"450105\"", where, d.Code)
		case codes[d.Code]:
			p.Add("%s.code %q: listed twice", where, d.Code)
		}
		codes[d.Code] = true
		switch {
		case strings.TrimSpace(d.Name) == "":
			p.Add("%s.name: the district's name, e.g. 江南区", where)
		case names[d.Name]:
			p.Add("%s.name %q: listed twice: the response names a missing district by it", where, d.Name)
		}
		names[d.Name] = true
		if err := config.HostPort(d.Address); err != nil {
			p.Add("%s.address: %v", where, err)
		}
		if !path.IsAbs(d.TokenFile) {
			p.Add("%s.token_file %q: the absolute path of the token file (a mounted Secret's key)", where, d.TokenFile)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &f, nil
}

// DeadlineOrDefault is the configured deadline, or api.DefaultRollupDeadline.
func (f *RollupFile) DeadlineOrDefault() time.Duration {
	if d, err := time.ParseDuration(f.Deadline); err == nil && d > 0 {
		return d
	}
	return api.DefaultRollupDeadline
}

// Tree is the city as a region tree of one node, which the rollup's node serves
// (RegionService) and checks scopes against. The tree's levels start at the district, so the
// city stands at that level: the rollup has no district of its own.
func (f *RollupFile) Tree() (*region.Tree, error) {
	return region.Parse(fmt.Appendf(nil, "code: %q\nname: %q\nlevel: district\n", f.City, f.Name))
}

// RollupDistrictConn is a district to roll up, with its connection.
type RollupDistrictConn struct {
	// Name is how the response names it.
	Name string
	// RegionCode is the district's code.
	RegionCode string
	// Conn is a connection to its reporting service, carrying the rollup's own credentials for
	// that district (a system principal whose scope is the district).
	Conn grpc.ClientConnInterface
}

// RollupConfig is what the city rollup needs: no database, no feeds.
type RollupConfig struct {
	// CityCode is the city's code: GetCityHeadline's callers hold it in their scope.
	CityCode  string
	Districts []RollupDistrictConn
	// Deadline bounds each district's answer (api.DefaultRollupDeadline when zero).
	Deadline time.Duration
	Logger   *slog.Logger
}

// Rollup is the city's reporting instance: it keeps no figures, and returns the city's by
// asking every district's reporting service at once, naming those that do not answer in time.
type Rollup struct {
	api *api.Rollup
}

// OpenRollup builds the city rollup.
func OpenRollup(cfg RollupConfig) (*Rollup, error) {
	if cfg.CityCode == "" {
		return nil, errors.New("reporting rollup: the city's code is required")
	}
	if len(cfg.Districts) == 0 {
		return nil, errors.New("reporting rollup: no districts to roll up")
	}
	var districts []api.District
	for _, d := range cfg.Districts {
		if d.Conn == nil || d.Name == "" || d.RegionCode == "" {
			return nil, fmt.Errorf("reporting rollup: district %q needs a name, a region code and a connection", d.Name)
		}
		districts = append(districts, api.District{Name: d.Name, RegionCode: d.RegionCode, Client: reportingv1.NewReportServiceClient(d.Conn)})
	}
	return &Rollup{api: api.NewRollup(api.RollupConfig{Districts: districts, CityCode: cfg.CityCode, Deadline: cfg.Deadline, Logger: cfg.Logger})}, nil
}

// Register adds the rollup's ReportService to srv.
func (r *Rollup) Register(srv grpc.ServiceRegistrar) {
	reportingv1.RegisterReportServiceServer(srv, r.api)
}
