// Package deploy holds the tests of socialsync's Kubernetes manifests,
// NATS Helm values and NATS accounts (the files beside this one): every
// kustomize overlay renders and decodes strictly into its Kubernetes types,
// and every worker does its job as its own NATS user while being refused
// outside its subjects.
package deploy
