// Package chaos holds the suite's fault tests (issue 17, "Reliability under faults"): every
// service restarted under load, the database's connections killed and the database restarted
// under load, and a feed consumer stopped while its backlog grows. They run the production
// assembly (internal/suite's OpenNode and Serve, the gateway, platform/grpcclient's retry
// policy) over loopback, and count what the callers saw and what the databases hold.
//
// `go test` runs short versions, part of `make test`. JIAYUAN_CHAOS=long runs the long ones
// (`make chaos-faults`, bounded to ten minutes): more load, restarts repeated, a consumer
// stopped for minutes.
//
// The database fault test needs PostgreSQL's server binaries (initdb, pg_ctl; found on PATH or
// under /usr/lib/postgresql/*/bin): it makes a private cluster in a temporary directory on a
// spare loopback port, never touching the server the other tests use, and fails, not skips,
// when the binaries are missing.
package chaos
