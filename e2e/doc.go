// Package e2e holds end-to-end tests that run against a server that is
// already running, reached only through its public API: over HTTP and
// WebSockets, usually through deploy/local's load balancer. They are
// behind the build tag e2e, so that `go test ./...` does not need one:
//
//	API_URL=http://127.0.0.1:18080/graphql AUTH_JWT_SECRET=… go test -tags e2e -count=1 ./e2e/
//
// deploy/local/check runs them against the deployment it checks.
package e2e
