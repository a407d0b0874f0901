// Package deploy holds gatepass's deployment examples: a Docker Compose stack
// of three replicas on PostgreSQL behind HAProxy (compose.yml, haproxy.cfg,
// gatepass.yml) and Kubernetes manifests (kubernetes/), built from the
// repository's Dockerfile. It has no code: its test parses every file
// strictly and checks that they agree with each other and with gatepass's
// contract, since no container runtime is at hand to run them.
package deploy
