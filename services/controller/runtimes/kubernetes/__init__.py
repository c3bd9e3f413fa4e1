"""The Kubernetes runtime: experiments as `Experiment` custom resources, reconciled into a learner
StatefulSet (+ headless Service, checkpoint storage) and an actor Deployment.

Modules: `schema` (pydantic JSON schema -> structural OpenAPI schema), `crd` (the CRD, generated),
`options` (cluster settings), `manifests` (the objects of one experiment), `api` (the Kubernetes
API calls, retried), `reconcile` (one level-triggered pass), `runtime` (the REST API's runtime).
"""
